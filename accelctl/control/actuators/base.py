"""The actuator interface and registry. Actuators only write weights (and read back what is live)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from accelctl.registry import Registry


class Actuator(ABC):
    @abstractmethod
    def read(self) -> dict[str, int]:
        """The weights live now, by unit name."""

    @abstractmethod
    def apply(self, weights: dict[str, int]) -> None:
        """Make `weights` live. Raises on failure; the loop retries and keeps last-known-good."""


ACTUATORS: Registry[type[Actuator]] = Registry("actuator")
