"""Re-applying the rendered manifests never resets the weights `accelctl watch` wrote (docs/gitops.md).

Against the fake API server's field ownership (tests/integration/fake_kube.py), for ALB and Gateway
routing and for each way a route gets re-applied: `kubectl apply` (client-side, three-way merge from
the last-applied annotation), `kubectl apply --server-side`, Argo CD with ServerSideApply=true and
Flux's kustomize-controller (both force conflicts). The fleet's kustomization is applied (every object
of it the fake serves: the route, Deployments, ConfigMaps, NodePools), the real `accelctl watch
--once` (options as the rendered Deployment passes them) writes the initial weights and then moves them
off a unit that cannot grow, it is applied again (as rendered, and once more with a changed host), and
the weights are what watch left. A control case renders the weights into the route, as
deploy used to: re-applying it resets or conflicts, so the test would catch a regression.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import httpx
import pytest
import yaml
from fake_kube import APPLY, KINDS, MERGE, FakeKube
from typer.testing import CliRunner

import accelctl.cli
from accelctl.control.actuators import ACTUATORS, alb_ingress, httproute
from accelctl.control.actuators.weights import FIELD_MANAGER, SERVICE_PORT
from accelctl.deploy.render import render
from accelctl.units import load_fleet

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "examples" / "paper-sd21.yaml"
PROFILES = REPO / "examples" / "paper" / "profiles"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
WEIGHTS_FIELD = {
    "alb": "metadata.annotations.alb.ingress.kubernetes.io/actions.weighted-routing",
    "gateway": "spec.rules",
}


def _url(fake: FakeKube, obj: dict, named: bool = True) -> str:
    prefix, plural, namespaced, _ = KINDS[obj["kind"]]
    scope = f"/namespaces/{obj['metadata']['namespace']}" if namespaced else ""
    base = f"{fake.url}/{prefix}{scope}/{plural}"
    return f"{base}/{obj['metadata']['name']}" if named else base


def three_way(original: dict, modified: dict, current: dict) -> dict:
    """kubectl apply's patch: what the config sets that differs from live, and null for what the last
    applied config had and this one drops. Fields only the live object has are left alone."""
    patch: dict = {}
    for key, want in modified.items():
        have = current.get(key) if isinstance(current, dict) else None
        if isinstance(want, dict) and isinstance(have, dict):
            before = original.get(key) if isinstance(original.get(key), dict) else {}
            sub = three_way(before, want, have)
            if sub:
                patch[key] = sub
        elif want != have:
            patch[key] = want
    for key in original:
        if key not in modified:
            patch[key] = None
    return patch


def kubectl_client_side_apply(fake: FakeKube, obj: dict) -> None:
    config = copy.deepcopy(obj)
    config["metadata"].setdefault("annotations", {})[LAST_APPLIED] = json.dumps(obj, sort_keys=True)
    manager = {"fieldManager": "kubectl-client-side-apply"}
    live = httpx.get(_url(fake, obj), timeout=10)
    if live.status_code == 404:
        created = httpx.post(_url(fake, obj, named=False), json=config, params=manager, timeout=10)
        assert created.status_code == 201, created.text
        return
    current = live.json()
    original = json.loads(current["metadata"].get("annotations", {}).get(LAST_APPLIED, "{}"))
    patch = three_way(original, config, current)
    # kubectl sends a strategic merge patch for Ingress; for these fields (no merge-keyed lists) it
    # means what this JSON merge patch means, which is what it sends for custom resources.
    sent = httpx.patch(
        _url(fake, obj),
        content=json.dumps(patch),
        headers={"Content-Type": MERGE},
        params=manager,
        timeout=10,
    )
    assert sent.status_code == 200, sent.text


def server_side_apply(manager: str, force: bool):
    def apply(fake: FakeKube, obj: dict) -> httpx.Response:
        return httpx.patch(
            _url(fake, obj),
            content=yaml.safe_dump(obj),
            headers={"Content-Type": APPLY},
            params={"fieldManager": manager, "force": str(force).lower()},
            timeout=10,
        )

    return apply


def must_apply(applier):
    def apply(fake: FakeKube, obj: dict) -> None:
        result = applier(fake, obj)
        if result is not None:
            assert result.status_code == 200, result.text

    return apply


APPLIERS = {
    "kubectl apply": kubectl_client_side_apply,
    "kubectl apply --server-side": must_apply(server_side_apply("kubectl", force=False)),
    "argo cd ServerSideApply": must_apply(server_side_apply("argocd-controller", force=True)),
    "flux kustomize-controller": must_apply(server_side_apply("kustomize-controller", force=True)),
}


def fleet_for(routing: str, **changes):
    return load_fleet(PAPER).model_copy(update={"routing": routing, "gateway": "infra/gw", **changes})


def rendered(routing: str, **changes) -> tuple[list[dict], list[str], dict[str, int]]:
    """The objects of the fleet's kustomization the fake API serves (the route, Deployments, ConfigMaps,
    NodePools), route first; the watch Deployment's --actuator-opt values; the initial weights."""
    manifests = render(fleet_for(routing, **changes), PROFILES)
    listed = yaml.safe_load(manifests.files["kustomization.yaml"])["resources"]
    objects = [yaml.safe_load(manifests.files[p]) for p in listed]
    served = sorted(
        (o for o in objects if o["kind"] in KINDS), key=lambda o: o["kind"] not in ("Ingress", "HTTPRoute")
    )
    assert served[0]["kind"] in ("Ingress", "HTTPRoute") and len(served) > 10
    command = yaml.safe_load(manifests.files["watch/deployment.yaml"])["spec"]["template"]["spec"][
        "containers"
    ][0]["command"]
    options = [command[i + 1] for i, a in enumerate(command) if a == "--actuator-opt"]
    return served, options, manifests.weights


def with_weights(route: dict, weights: dict[str, int]) -> dict:
    """The route as deploy rendered it before the weights moved out of it (the control case)."""
    old = copy.deepcopy(route)
    if old["kind"] == "Ingress":
        action = alb_ingress.with_forward_weights(alb_ingress.new_forward_action(), weights, SERVICE_PORT)
        old["metadata"]["annotations"][alb_ingress.ACTION_PREFIX + "weighted-routing"] = (
            alb_ingress.dump_action(action)
        )
    else:
        old["spec"]["rules"] = [httproute.with_rule_weights(httproute.DEFAULT_RULE, weights, SERVICE_PORT)]
    return old


def run_watch(fake: FakeKube, routing: str, options: list[str], tmp_path) -> dict:
    """`accelctl watch --once` with the rendered actuator options; one unit's pool cannot grow."""
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(fleet_for(routing).model_dump(mode="json", exclude_none=True)))
    units = {u.name: {"rps": 1.0, "p95": 0.5, "ready": 1, "desired": 1} for u in fleet_for(routing).units}
    units["sd21-trn1-neuron"]["capacity_events"] = 1
    static = tmp_path / "metrics.yaml"
    static.write_text(yaml.safe_dump({"units": units}))
    actuator = {"alb": "alb-ingress", "gateway": "httproute"}[routing]
    args = ["watch", "--fleet", str(fleet), "--profiles", str(PROFILES), "--source", "static"]
    args += ["--source-opt", f"path={static}", "--actuator", actuator, "--policy", "cost", "--once", "--json"]
    for option in [*options, f"host={fake.url}"]:
        args += ["--actuator-opt", option]
    result = CliRunner().invoke(accelctl.cli.app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def live_weights(fake: FakeKube, routing: str) -> dict[str, int]:
    actuator = {"alb": "alb-ingress", "gateway": "httproute"}[routing]
    opts = {"host": fake.url, "namespace": "sd21", ("ingress" if routing == "alb" else "route"): "sd21"}
    return ACTUATORS.create(actuator, opts).read()


@pytest.mark.parametrize("applier", sorted(APPLIERS))
@pytest.mark.parametrize("routing", ["alb", "gateway"])
def test_reapplying_the_rendered_route_keeps_the_weights_watch_wrote(tmp_path, routing, applier):
    def apply(fake: FakeKube, objects: list[dict]) -> None:
        for obj in objects:
            APPLIERS[applier](fake, obj)

    objects, options, initial = rendered(routing)
    route = objects[0]
    with FakeKube() as fake:
        apply(fake, objects)
        assert live_weights(fake, routing) == {}  # rendered without weights

        record = run_watch(fake, routing, options, tmp_path)
        assert record["weights_before"] == initial  # written first, before any metrics were read
        assert record["applied"] and record["weights_after"]["sd21-trn1-neuron"] == 0
        moved = live_weights(fake, routing)
        assert moved == record["weights_after"] != initial
        owners = fake.managers(route["kind"], "sd21", "sd21")
        assert WEIGHTS_FIELD[routing] in owners[FIELD_MANAGER]

        apply(fake, objects)  # Argo CD sync, Flux reconcile, kubectl apply -k: the same manifests again
        assert live_weights(fake, routing) == moved

        changed, _, _ = rendered(routing, host="sd.example.com")
        apply(fake, changed)  # a new render: what the manifests own changes, the weights do not
        live = fake.get(route["kind"], "sd21", "sd21")
        hosts = (
            [r.get("host") for r in live["spec"]["rules"]] if routing == "alb" else live["spec"]["hostnames"]
        )
        assert "sd.example.com" in hosts
        assert live_weights(fake, routing) == moved
        owners = fake.managers(route["kind"], "sd21", "sd21")
        assert [m for m, fields in owners.items() if WEIGHTS_FIELD[routing] in fields] == [FIELD_MANAGER]


@pytest.mark.parametrize("applier", sorted(APPLIERS))
@pytest.mark.parametrize("routing", ["alb", "gateway"])
def test_control_a_route_rendered_with_weights_is_reset_or_refused(tmp_path, routing, applier):
    objects, options, initial = rendered(routing)
    old = with_weights(objects[0], initial)
    with FakeKube() as fake:
        APPLIERS[applier](fake, old)
        moved = run_watch(fake, routing, options, tmp_path)["weights_after"]
        assert live_weights(fake, routing) == moved != initial
        if applier == "kubectl apply --server-side":
            refused = server_side_apply("kubectl", force=False)(fake, old)
            assert refused.status_code == 409 and FIELD_MANAGER in refused.text
            assert live_weights(fake, routing) == moved
        else:
            APPLIERS[applier](fake, old)
            assert live_weights(fake, routing) == initial  # the weights watch wrote are gone


@pytest.mark.parametrize("routing", ["alb", "gateway"])
def test_the_rendered_argo_cd_and_flux_settings_name_the_route_and_its_field_manager(routing):
    files = render(fleet_for(routing), PROFILES).files
    route = rendered(routing)[0][0]
    app = yaml.safe_load(files["gitops/argocd-application.yaml"])
    group = route["apiVersion"].rpartition("/")[0]
    assert app["spec"]["ignoreDifferences"] == [
        {
            "group": group,
            "kind": route["kind"],
            "name": route["metadata"]["name"],
            "namespace": route["metadata"]["namespace"],
            "managedFieldsManagers": [FIELD_MANAGER],
        }
    ]
    assert {"ServerSideApply=true", "RespectIgnoreDifferences=true"} <= set(
        app["spec"]["syncPolicy"]["syncOptions"]
    )
    assert app["spec"]["destination"]["namespace"] == route["metadata"]["namespace"]
    flux = yaml.safe_load(files["gitops/flux-kustomization.yaml"])
    assert flux["spec"]["force"] is False and flux["spec"]["prune"] is True
    assert flux["spec"]["path"] == "./" + app["spec"]["source"]["path"]
    # Applied where Argo CD / Flux run, never by the fleet's own kustomization.
    assert not [
        p for p in yaml.safe_load(files["kustomization.yaml"])["resources"] if p.startswith("gitops/")
    ]


@pytest.mark.parametrize("applier", ["kubectl apply", "argo cd ServerSideApply"])
@pytest.mark.parametrize("routing", ["alb", "gateway"])
def test_upgrading_from_a_render_that_carried_the_weights(tmp_path, routing, applier):
    """docs/gitops.md, "Upgrading": under server-side apply, weights watch has changed since stay (it
    owns them); client-side apply drops whatever its last-applied annotation had; weights that go are
    written again, the initial ones, on watch's next tick."""
    apply = APPLIERS[applier]
    objects, options, initial = rendered(routing)
    route = objects[0]
    with FakeKube() as fake:
        apply(fake, with_weights(route, initial))
        moved = run_watch(fake, routing, options, tmp_path)["weights_after"]
        apply(fake, route)
        if applier == "kubectl apply":
            assert live_weights(fake, routing) == {}
            assert run_watch(fake, routing, options, tmp_path)["weights_before"] == initial
        else:
            assert live_weights(fake, routing) == moved
    with FakeKube() as fake:
        apply(fake, with_weights(route, initial))
        apply(fake, route)
        assert live_weights(fake, routing) == {}  # the weights went with the applier's ownership
        record = run_watch(fake, routing, options, tmp_path)
        assert record["weights_before"] == initial and live_weights(fake, routing) == record["weights_after"]
