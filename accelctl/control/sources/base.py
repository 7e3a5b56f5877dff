"""The metric-source interface and registry. Sources only read."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from pydantic import BaseModel

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
    """Reads one snapshot of every unit's metrics. Raises on failure; the loop holds and alarms.

    Plug-ins declare `config_model` (pydantic) and take an instance of it: Registry.create builds them.
    """

    config_model: type[BaseModel]

    @abstractmethod
    def read(self, units: list[UnitBinding], now: float) -> MetricsSnapshot: ...

    def close(self) -> None:  # noqa: B027 - optional hook for clients that hold connections
        return None


SOURCES: Registry[type[Source]] = Registry("metrics source")
