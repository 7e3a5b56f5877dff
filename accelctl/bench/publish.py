"""Profiles in ConfigMaps: how a bench Job's result leaves the cluster.

`accelctl deploy` renders, per unit, an empty ConfigMap `accelctl-profile-<unit>` and a Role that lets
the unit's bench Job get and update that one ConfigMap (RBAC cannot limit `create` to a name, so the
ConfigMap is made by the deploy, not by the Job). The Job's `profile push` puts the profile file into
it byte for byte; `profile pull` writes it back under the file name the fleet spec gives the unit's
profile, so the next `accelctl deploy` reads the measured profile. kubernetes is imported by the
functions that talk to the API server only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

import yaml
from pydantic import ValidationError

from accelctl.errors import AccelctlError, InputError
from accelctl.files import validation_message
from accelctl.units import Profile

PREFIX = "accelctl-profile-"
KEY = "profile.yaml"  # the ConfigMap data key holding the profile file
FILE_ANNOTATION = "accelctl.io/profile-file"  # the unit's `profile` path in the fleet spec
COMPONENT = "profile"  # app.kubernetes.io/component of the ConfigMaps
SELECTOR = f"app.kubernetes.io/managed-by=accelctl,app.kubernetes.io/component={COMPONENT}"
VERBS = ("get", "update")  # all the Job does to its ConfigMap: read it, replace it


def configmap_name(unit: str) -> str:
    return f"{PREFIX}{unit}"


@dataclass(frozen=True)
class Pulled:
    configmap: str
    unit: str
    file: str  # relative path under the profiles folder
    text: str | None  # None: the bench Job has not written it yet


def check_profile(text: str, where: str) -> Profile:
    """The text parses as a Profile; otherwise one line naming where it came from."""
    try:
        return Profile.model_validate(yaml.safe_load(text) or {})
    except yaml.YAMLError:
        raise InputError(f"{where}: {KEY} is not YAML; run the bench Job again") from None
    except ValidationError as err:
        raise InputError(validation_message(where, err)) from None


def _core(conn):
    from kubernetes import client

    from accelctl.control.clients import kube_api_client

    return client.CoreV1Api(kube_api_client(conn))


def push(conn, namespace: str, name: str, text: str) -> None:
    """Replace the profile in ConfigMap namespace/name (read, then update at that resourceVersion)."""
    from accelctl.control.clients import KubeNotFound, kube_call

    core = _core(conn)
    what = f"configmap {namespace}/{name}"
    try:
        live = kube_call(f"get {what}", core.read_namespaced_config_map, name, namespace)
    except KubeNotFound:
        raise AccelctlError(
            f"{what}: not found; apply the rendered fleet (kubectl apply -k), which creates it, "
            "then rerun the Job"
        ) from None
    live.data = {**(live.data or {}), KEY: text}
    kube_call(f"update {what}", core.replace_namespaced_config_map, name, namespace, live)


def pull(conn, namespace: str, unit: str | None = None) -> list[Pulled]:
    """The profile ConfigMaps of a namespace (or the one unit's), in name order."""
    from accelctl.control.clients import KubeNotFound, kube_call

    core = _core(conn)
    if unit is not None:
        name = configmap_name(unit)
        try:
            items = [
                kube_call(
                    f"get configmap {namespace}/{name}", core.read_namespaced_config_map, name, namespace
                )
            ]
        except KubeNotFound:
            raise AccelctlError(
                f"configmap {namespace}/{name}: not found; is {unit!r} a unit of a fleet deployed to "
                f"{namespace}? (`accelctl deploy` renders it)"
            ) from None
    else:
        listed = kube_call(
            f"list configmaps in {namespace}",
            core.list_namespaced_config_map,
            namespace,
            label_selector=SELECTOR,
        )
        items = sorted(listed.items, key=lambda cm: cm.metadata.name)
    return [_pulled(namespace, cm) for cm in items]


def _pulled(namespace: str, cm) -> Pulled:
    meta = cm.metadata
    where = f"configmap {namespace}/{meta.name}"
    file = (meta.annotations or {}).get(FILE_ANNOTATION)
    path = PurePosixPath(file or "")
    if not file or path.is_absolute() or ".." in path.parts:
        raise InputError(
            f"{where}: annotation {FILE_ANNOTATION} must be a relative profile path; "
            "render and apply the fleet again"
        )
    unit = meta.name.removeprefix(PREFIX)
    return Pulled(meta.name, unit, path.as_posix(), (cm.data or {}).get(KEY))
