"""Leader election through a coordination.k8s.io/v1 Lease, so that only one `watch` replica writes.

The semantics follow client-go's leaderelection: the holder renews the Lease every tick; another
replica takes it over only after it has seen the same Lease record unchanged for a whole lease
duration on its *own* clock, so clock skew between nodes cannot make two leaders. Writes carry the
resourceVersion they read, so of two replicas racing for an expired Lease the API server lets one win
(409 Conflict for the other). Any failure to reach the API server means standby: a replica that
cannot prove it leads does not write weights.

Used as `Controller.gate`: called with the loop's clock, it returns None while this replica leads
and a `Standby` (why it stands by) otherwise.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from accelctl.control.clients import KubeConnection, kube_api_client
from accelctl.control.types import Standby, StandbyCode

log = logging.getLogger("accelctl.watch")


def default_identity() -> str:
    """The pod name in a cluster (HOSTNAME is the pod name there), else host and process id."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"


class LeaseConfig(KubeConnection):
    name: str = Field(default="accelctl-watch", description="Lease object name")
    namespace: str = Field(default="default", description="namespace of the Lease")
    identity: str = Field(default_factory=default_identity, description="this replica's holder identity")
    lease_s: float = Field(default=45.0, gt=0, description="how long a Lease lasts without renewal")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def micro_time(t: dt.datetime | str | None) -> str | None:
    """A Lease timestamp as the API server parses it (RFC 3339, exactly six fraction digits).

    The client would send datetime.isoformat(), which drops the fraction when it is zero, and the
    server's MicroTime parser rejects that; so timestamps travel as strings."""
    if t is None or isinstance(t, str):
        return t
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class LeaseElector:
    api: Any  # kubernetes.client.CoordinationV1Api
    name: str
    namespace: str
    identity: str
    lease_s: float
    timeout_s: float = 10.0  # per API request: a hung call must not outlive the lease
    wall: Callable[[], dt.datetime] = _utcnow  # timestamps written into the Lease
    observed: tuple[str | None, float] | None = field(
        default=None, init=False
    )  # (resourceVersion, first seen at)
    leading: bool = field(default=False, init=False)

    @property
    def lease(self) -> str:
        return f"{self.namespace}/{self.name}"

    def __call__(self, now: float) -> Standby | None:
        from kubernetes.client.exceptions import ApiException

        try:
            standby = self._try(now)
        except ApiException as exc:
            standby = Standby(
                StandbyCode.API_ERROR, self.lease, values={"status": exc.status}, detail=exc.reason
            )
        except Exception as exc:  # network errors: whoever cannot renew must not write
            standby = Standby(StandbyCode.UNREACHABLE, self.lease, detail=str(exc))
        if self.leading != (standby is None):
            log.info("leader election: %s", "leading" if standby is None else standby.text())
        self.leading = standby is None
        return standby

    def _try(self, now: float) -> Standby | None:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace, _request_timeout=self.timeout_s)
        except ApiException as exc:
            if exc.status != 404:
                raise
            body = client.V1Lease(
                metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
                spec=self._spec(client.V1LeaseSpec(lease_transitions=0), acquired=True),
            )
            return self._write(
                lambda: self.api.create_namespaced_lease(
                    self.namespace, body, _request_timeout=self.timeout_s
                ),
                "created by another replica",
            )
        spec = lease.spec or client.V1LeaseSpec()
        holder = spec.holder_identity
        if holder == self.identity:
            lease.spec = self._spec(spec, acquired=False)
            return self._write(
                lambda: self.api.replace_namespaced_lease(
                    self.name, self.namespace, lease, _request_timeout=self.timeout_s
                ),
                "taken over",
            )
        rv = lease.metadata.resource_version
        if self.observed is None or self.observed[0] != rv:
            self.observed = (rv, now)  # a changed record: the holder is alive as of now
        duration = spec.lease_duration_seconds or self.lease_s
        waited = now - self.observed[1]
        if holder and waited < duration:
            return Standby(
                StandbyCode.HELD_ELSEWHERE, self.lease, holder=holder, values={"lease_s": duration}
            )
        spec.lease_transitions = (spec.lease_transitions or 0) + 1
        lease.spec = self._spec(spec, acquired=True)
        return self._write(
            lambda: self.api.replace_namespaced_lease(
                self.name, self.namespace, lease, _request_timeout=self.timeout_s
            ),
            "taken by another replica",
        )

    def _spec(self, spec, acquired: bool):
        now = micro_time(self.wall())
        spec.holder_identity = self.identity
        spec.lease_duration_seconds = max(1, int(round(self.lease_s)))
        spec.renew_time = now
        spec.acquire_time = now if acquired else micro_time(spec.acquire_time)
        return spec

    def _write(self, call: Callable[[], Any], lost: str) -> Standby | None:
        from kubernetes.client.exceptions import ApiException

        try:
            call()
        except ApiException as exc:
            if exc.status == 409:  # someone wrote between our read and write: they win this round
                self.observed = None
                return Standby(StandbyCode.LOST_RACE, self.lease, detail=lost)
            raise
        return None

    def release(self) -> None:
        """Give the Lease up on a clean shutdown so a standby takes over at once, not a lease later."""
        if not self.leading:
            return
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace, _request_timeout=self.timeout_s)
            if lease.spec and lease.spec.holder_identity == self.identity:
                lease.spec.holder_identity = None
                lease.spec.lease_duration_seconds = 1
                lease.spec.acquire_time = micro_time(lease.spec.acquire_time)
                lease.spec.renew_time = micro_time(lease.spec.renew_time)
                self.api.replace_namespaced_lease(
                    self.name, self.namespace, lease, _request_timeout=self.timeout_s
                )
        except Exception:
            log.warning(
                "could not release lease %s/%s; it expires in %gs", self.namespace, self.name, self.lease_s
            )
        self.leading = False


def lease_elector(config: LeaseConfig) -> LeaseElector:
    from kubernetes import client

    api = client.CoordinationV1Api(kube_api_client(config))
    return LeaseElector(api, config.name, config.namespace, config.identity, config.lease_s, config.timeout_s)
