"""Baselines the simulator compares accelctl's policies with.

`static` (the paper's hand weights) and `round-robin` (equal weights) never change their weights, so
they need no controller: the simulator writes them once through the same SimActuator. `paper` is the
paper's controller: a binary switch to capacity mode when its capacity check finds a pool short, back
to cost mode only once the pool is healthy in a later load cycle. It runs in the real Controller at
the paper's check interval, registered in POLICIES as `paper` only while a simulation runs it
(`POLICIES.registered`), so `watch` never offers it and its code stays as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from accelctl.control.policy import PolicyContext, Proposal, capacity_scores, cost_scores, integer_weights
from accelctl.control.types import PolicyState, Reason, ReasonCode
from accelctl.units import ResolvedUnit


def fixed_weights(name: str, units: tuple[ResolvedUnit, ...], static: dict[str, int]) -> dict[str, int]:
    """The weights of a fixed baseline, one entry per unit."""
    if name == "static":
        return {u.name: static.get(u.name, 0) for u in units}
    return integer_weights({u.name: 1.0 for u in units})


@dataclass(frozen=True)
class PaperState(PolicyState):
    """PolicyState plus the load cycle the paper's fallback waits for."""

    cycle_s: float = 86400.0
    cycle_origin: float = 0.0  # a time a cycle starts (the load's trough)
    failed_over_in: int | None = None  # cycle index of the last failover

    def cycle(self, now: float) -> int:
        return math.floor((now - self.cycle_origin) / self.cycle_s)


PAPER = "paper"


def paper_policy(
    ctx: PolicyContext, state: PolicyState, available: dict[str, bool]
) -> tuple[Proposal, PolicyState]:
    if not isinstance(state, PaperState):
        raise TypeError("the paper policy needs a PaperState: it waits for the next load cycle")
    st, now = state, ctx.now
    short = sorted(n for n, m in ctx.snapshot.units.items() if m.capacity_events > 0)
    mode, reason = st.mode, None
    if st.mode == "cost" and short:
        mode, reason = "capacity", Reason(ReasonCode.PAPER_FAILOVER, detail=", ".join(short))
    elif st.mode == "capacity" and not short:
        if st.failed_over_in is not None and st.cycle(now) > st.failed_over_in:
            mode, reason = "cost", Reason(ReasonCode.PAPER_FALLBACK)
        else:
            reason = Reason(ReasonCode.PAPER_WAITS)
    failed_over_in = st.cycle(now) if mode == "capacity" and st.mode == "cost" else st.failed_over_in
    scores = cost_scores(ctx.units, available) if mode == "cost" else capacity_scores(ctx.units, available)
    new = replace(
        st, mode=mode, mode_since=now if mode != st.mode else st.mode_since, failed_over_in=failed_over_in
    )
    return Proposal(mode, scores, tuple(r for r in (reason,) if r)), new
