"""The metric-source interface and registry. Sources only read."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, fields

from pydantic import BaseModel

from accelctl.control.types import MetricsSnapshot, UnitMetrics
from accelctl.registry import Registry


@dataclass(frozen=True)
class UnitBinding:
    """Where a unit lives, so a source can find its metrics and an actuator its route."""

    name: str  # unit name: Service and Deployment name in Kubernetes, backend name in the router
    namespace: str = "default"
    pool: str | None = None  # capacity pool (Karpenter NodePool) whose insufficient-capacity events count
    url: str | None = None  # base URL of the unit's server, where it is reachable directly


class Source(ABC):
    """Reads one snapshot of every unit's metrics. Raises on failure; the loop holds and alarms.

    Plug-ins declare `config_model` (pydantic) and take an instance of it: Registry.create builds them.
    Each source also says which UnitMetrics fields it measures (`measures`): a field it does not
    measure reads as its default in its snapshots, which is "not measured", not a measured 0, and a
    combined source (control/combined.py) takes that field from another source.
    """

    config_model: type[BaseModel]

    def measures(self) -> frozenset[str]:
        """The UnitMetrics fields this source measures; every field unless a source says otherwise."""
        return METRIC_FIELDS

    @abstractmethod
    def read(self, units: list[UnitBinding], now: float) -> MetricsSnapshot: ...

    def close(self) -> None:  # noqa: B027 - optional hook for clients that hold connections
        return None


METRIC_FIELDS: frozenset[str] = frozenset(f.name for f in fields(UnitMetrics))


SOURCES: Registry[type[Source]] = Registry("metrics source")
