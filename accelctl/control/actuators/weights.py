"""What every actuator checks before writing, and the unit <-> backend name mapping they share."""

from __future__ import annotations

from accelctl.errors import InputError

ALB_MAX_WEIGHT = 999  # ALB forward actions take integer weights 0..999
GATEWAY_MAX_WEIGHT = 1_000_000  # Gateway API backendRef weight bound
# The field manager every write of the weights is made as: GitOps tools leave its fields alone
# (Argo CD ignoreDifferences managedFieldsManagers; docs/gitops.md).
FIELD_MANAGER = "accelctl-watch"
# The unit Services' port: `accelctl deploy` renders every Service and server on it, actuators default to it.
SERVICE_PORT = 8000


def check_weights(weights: dict[str, int], maximum: int, where: str) -> None:
    """Refuse what the load balancer would reject, and all zeros (which would drop every request)."""
    for unit, w in weights.items():
        if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= maximum:
            raise InputError(f"{where}: weight for {unit!r} is {w!r}; weights are integers 0..{maximum}")
    if not any(weights.values()):
        raise InputError(f"{where}: refusing to write all-zero weights (no backend would get traffic)")


def to_backends(weights: dict[str, int], backends: dict[str, str]) -> dict[str, int]:
    """Unit names -> backend names (Service, target group); a unit not in `backends` is its own backend."""
    return {backends.get(unit, unit): w for unit, w in weights.items()}


def to_units(weights: dict[str, int], backends: dict[str, str]) -> dict[str, int]:
    units = {b: u for u, b in backends.items()}
    return {units.get(name, name): w for name, w in weights.items()}
