"""Kubernetes and AWS clients for sources, actuators, leader election and bench publishing: one recipe each.

Plug-in configs subclass these models so users give flat options (`region=...`, `host=...`).
boto3 and kubernetes are imported inside the functions: importing a registry stays cheap.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import Field

from accelctl.errors import AccelctlError, InputError, MissingDependency
from accelctl.schema import Strict

R = TypeVar("R")


class KubeConnection(Strict):
    host: str | None = Field(
        default=None,
        description="API server URL used as-is, without credentials: e.g. http://127.0.0.1:8001 from "
        "`kubectl proxy`. Default: in-cluster service account, else the kubeconfig",
    )
    kubeconfig: str | None = Field(
        default=None, description="kubeconfig file; default $KUBECONFIG or ~/.kube/config"
    )
    context: str | None = Field(default=None, description="kubeconfig context; default the current one")
    timeout_s: float = Field(default=10.0, gt=0, description="per-request timeout")


class AwsConnection(Strict):
    region: str = Field(description="AWS region, e.g. us-east-1")
    endpoint_url: str | None = Field(
        default=None, description="service endpoint override (VPC endpoint, a local emulator)"
    )
    profile: str | None = Field(
        default=None, description="AWS shared-config profile; default the standard credential chain"
    )
    timeout_s: float = Field(default=10.0, gt=0, description="connect and read timeout per request")


def kube_api_client(conn: KubeConnection):
    """A kubernetes.client.ApiClient for `conn`; a missing kubeconfig is an InputError naming the fix."""
    try:
        from kubernetes import client, config
    except ImportError:
        raise MissingDependency(
            "the kubernetes package is not installed; pip install 'accelctl[k8s]'"
        ) from None

    cfg = client.Configuration()
    if conn.host:
        cfg.host = conn.host.rstrip("/")
    elif conn.kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ:
        config.load_incluster_config(client_configuration=cfg)
    else:
        try:
            # $KUBECONFIG read now: the kubernetes package reads it once, when it is first imported.
            config.load_kube_config(
                config_file=conn.kubeconfig or os.environ.get("KUBECONFIG"),
                context=conn.context,
                client_configuration=cfg,
            )
        except (config.ConfigException, OSError) as exc:
            raise InputError(
                f"kubernetes: cannot load kubeconfig ({' '.join(str(exc).split())}); "
                "give kubeconfig=PATH, context=NAME or host=URL"
            ) from None
    # A controller must fail fast and let the loop hold; urllib3's default retries would stall a tick.
    cfg.retries = False
    return client.ApiClient(cfg)


class KubeNotFound(AccelctlError):
    """The API server answered 404: the object, or its whole API group, does not exist."""


class KubeForbidden(AccelctlError):
    """The API server answered 403: RBAC does not grant this request."""


def kube_call(what: str, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """Call the kubernetes client; any failure becomes one AccelctlError line saying what was tried."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        return fn(*args, **kwargs)
    except ApiException as exc:
        cls = {404: KubeNotFound, 403: KubeForbidden}.get(exc.status, AccelctlError)
        raise cls(f"kubernetes: {what}: {exc.status} {exc.reason}: {_status_message(exc.body)}") from None
    except (HTTPError, OSError) as exc:
        raise AccelctlError(f"kubernetes: {what}: {exc}") from None


def _status_message(body: str | bytes | None) -> str:
    """The `message` of a Kubernetes Status body, else the body itself."""
    if not body:
        return "(no body)"
    try:
        return str(json.loads(body).get("message", body))
    except (ValueError, AttributeError):
        return body.decode(errors="replace") if isinstance(body, bytes) else str(body)


def aws_client(service: str, conn: AwsConnection):
    try:
        import boto3
    except ImportError:
        raise MissingDependency("boto3 is not installed; pip install 'accelctl[aws]'") from None
    from botocore.config import Config

    session = boto3.session.Session(profile_name=conn.profile, region_name=conn.region)
    # One quick retry, then fail: the control loop holds and tries again next tick.
    config = Config(
        connect_timeout=conn.timeout_s,
        read_timeout=conn.timeout_s,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    return session.client(service, endpoint_url=conn.endpoint_url, config=config)


def aws_call(what: str, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """Call boto3; any failure becomes one AccelctlError line saying what was tried."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(*args, **kwargs)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise AccelctlError(f"aws: {what}: {err.get('Code', '?')}: {err.get('Message', exc)}") from None
    except BotoCoreError as exc:
        raise AccelctlError(f"aws: {what}: {exc}") from None
