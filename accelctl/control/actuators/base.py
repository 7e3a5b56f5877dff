"""The actuator interface and registry. Actuators only write weights (and read back what is live)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from pydantic import BaseModel

from accelctl.registry import Registry


class Actuator(ABC):
    """Plug-ins declare `config_model` (pydantic) and take an instance of it: Registry.create builds them."""

    config_model: type[BaseModel]

    @abstractmethod
    def read(self) -> dict[str, int]:
        """The weights live now, by unit name."""

    @abstractmethod
    def apply(self, weights: dict[str, int]) -> None:
        """Make `weights` live. Raises on failure; the loop retries and keeps last-known-good."""

    def record_replicas(self, replicas: dict[str, int]) -> None:  # noqa: B027 - most actuators route only
        """Keep the planned replicas per unit where the actuator's reader looks for them (the simulated
        KEDA, the router's admin view, a file beside the manifest). In a cluster KEDA reads them from
        `watch`'s exporter instead, so routing actuators need not do anything."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook for clients that hold connections
        """Release the actuator's client connections; watch and demo call it when the loop ends."""
        return None


ACTUATORS: Registry[type[Actuator]] = Registry("actuator")
