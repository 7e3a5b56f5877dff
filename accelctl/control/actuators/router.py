"""The `router` actuator: writes weights to the local router's admin API (`accelctl router`)."""

from __future__ import annotations

from pydantic import Field

from accelctl.control.actuators.base import ACTUATORS, Actuator
from accelctl.schema import Strict


class RouterActuatorConfig(Strict):
    admin_url: str = Field(
        default="http://127.0.0.1:8080", description="base URL of the router; its admin API is under /admin"
    )
    timeout_s: float = Field(default=5.0, gt=0, description="per admin API request, seconds")


@ACTUATORS.register("router")
class RouterActuator(Actuator):
    config_model = RouterActuatorConfig

    def __init__(self, config: RouterActuatorConfig):
        from accelctl.router.client import RouterClient

        self.config = config
        self.client = RouterClient(config.admin_url, config.timeout_s)

    def read(self) -> dict[str, int]:
        return self.client.weights()

    def apply(self, weights: dict[str, int]) -> None:
        # The router rejects unknown names with a 400, which the client raises: nothing is half-applied.
        self.client.set_weights(weights)

    def record_replicas(self, replicas: dict[str, int]) -> None:
        # The router shows them beside each backend (/admin/backends); the demo's view reads them there.
        self.client.set_planned(replicas)

    def close(self) -> None:
        self.client.close()
