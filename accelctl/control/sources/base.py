"""The metric-source interface and registry. Sources only read."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from accelctl.control.types import MetricsSnapshot
from accelctl.registry import Registry


@dataclass(frozen=True)
class UnitBinding:
    """Where a unit lives, so a source can find its metrics and an actuator its route."""

    name: str  # unit name: Service and Deployment name in Kubernetes, backend name in the router
    namespace: str = "default"
    node_pool: str | None = None
    url: str | None = None  # base URL of the unit's server, where it is reachable directly


class Source(ABC):
    """Reads one snapshot of every unit's metrics. Raises on failure; the loop holds and alarms."""

    @abstractmethod
    def read(self, units: list[UnitBinding], now: float) -> MetricsSnapshot: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        return None


SOURCES: Registry[type[Source]] = Registry("metrics source")
