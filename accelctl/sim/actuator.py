"""The simulated actuator: writes routing weights into the simulated fleet's router."""

from __future__ import annotations

from accelctl.control.actuators.base import Actuator
from accelctl.sim.fleet import SimFleet


class SimActuator(Actuator):
    """Not in the ACTUATORS registry: it needs a live simulated fleet, which no config file can name."""

    def __init__(self, fleet: SimFleet):
        self.fleet = fleet

    def read(self) -> dict[str, int]:
        return dict(self.fleet.weights)

    def apply(self, weights: dict[str, int]) -> None:
        self.fleet.set_weights(weights)

    def record_replicas(self, replicas: dict[str, int]) -> None:
        # What watch's exporter would serve on /planned; the simulated KEDA reads it at its next poll.
        self.fleet.planned = dict(replicas)
