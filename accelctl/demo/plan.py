"""The demo's timeline, from its duration alone (pure).

   0 ─ cost mode ─ fault ─ capacity mode (failover) ─ restore ─ dwell ─ cost mode (fallback) ─ end

The faulted server is restarted as soon as it is stopped, standing in for the node Karpenter would
launch; it takes no traffic until its pool is marked available again at the restore, because the
policy counts a pool with capacity events as unavailable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from accelctl.errors import InputError

MIN_DURATION_S = 60.0


@dataclass(frozen=True)
class Plan:
    duration_s: float  # how long the load runs
    interval_s: float  # control loop period
    fault_at: float  # seconds from the start of the load
    restore_at: float  # earliest restore; later if the restarted server is not ready yet
    min_dwell_s: float  # healthy time before falling back
    overtime_s: float  # how long after the load the demo may wait for a fallback still in its dwell


def plan(duration_s: float) -> Plan:
    """Fault at 1/6 of the run, restore at 2/3: the restarted server gets half the run to come up
    (a CPU build loads in tens of seconds on a busy laptop), and the dwell fits before the end."""
    if not math.isfinite(duration_s) or duration_s < MIN_DURATION_S:
        raise InputError(
            f"--duration {duration_s:g}: the demo needs at least {MIN_DURATION_S:.0f} s for a fault, "
            "a failover, a restore and a fallback; give --duration 90 or more"
        )
    interval = min(max(duration_s / 45.0, 1.0), 5.0)
    dwell = max(duration_s / 9.0, 3 * interval)
    return Plan(
        duration_s=duration_s,
        interval_s=interval,
        fault_at=duration_s / 6.0,
        restore_at=duration_s * 2.0 / 3.0,
        min_dwell_s=dwell,
        overtime_s=dwell + 3 * interval,
    )
