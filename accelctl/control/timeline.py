"""One shortage timeline, read the same way from a simulated run and from the demo's live loop (pure).

A shortage of capacity for some units runs from `start` (launches begin to fail) to `end` (capacity is
back). From the controller's decisions:

- first signal: the first capacity signal at or after the start (an insufficient-capacity event, a
  pod pending past the window), as the caller observed it;
- failover: the first decision at or after the first signal that stops planning growth on a short
  unit (`can_grow` false), or, for a policy that plans no replicas, that takes every short unit's
  weight to 0 (the only way such a policy stops them growing: KEDA follows their traffic);
- fallback: capacity back -> the short units' planned replicas restored: the first decision at or
  after the end (and the failover) from which every short unit may grow and has as many Ready
  replicas as planned; for a policy that plans no replicas, the first decision from which the short
  units get traffic again in the mode the policy was in before the shortage;
- cost-optimal split restored: the first decision at or after the fallback back in that mode with
  the short units' weight at least what it was just before the shortage, less the deadband each;
- mode changes: between the start and the fallback (or the end of the record).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TickRecord:
    """What the timeline needs of one decision."""

    time: float
    mode: str | None
    weights: dict[str, int]
    can_grow: dict[str, bool] = field(default_factory=dict)
    planned: dict[str, int] | None = None  # None: the policy plans no replicas
    ready: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ShortageTimeline:
    first_signal: float | None
    failover: float | None
    fallback: float | None
    split_restored: float | None
    mode_changes: int

    def since(self, t0: float | None, t: float | None) -> float | None:
        return None if t is None or t0 is None else t - t0


def tick_record(result) -> TickRecord:
    """What the timeline keeps of a loop TickResult that decided (simulate and demo both call this)."""
    d, snap = result.decision, result.snapshot
    return TickRecord(
        time=result.time,
        mode=d.mode,
        weights=dict(result.after),
        can_grow=dict(d.can_grow),
        planned=None if d.planned_replicas is None else dict(d.planned_replicas),
        ready={n: m.ready for n, m in snap.units.items()} if snap else {},
    )


def _stopped_growth(r: TickRecord, short: Sequence[str]) -> bool:
    if r.planned is not None:
        return any(not r.can_grow.get(n, True) for n in short)
    return all(r.weights.get(n, 0) == 0 for n in short)


def _restored(r: TickRecord, short: Sequence[str], mode_before: str | None) -> bool:
    if r.planned is not None:
        return all(r.can_grow.get(n, True) and r.ready.get(n, 0) >= r.planned.get(n, 0) for n in short)
    return r.mode == mode_before and any(r.weights.get(n, 0) > 0 for n in short)


def shortage_timeline(
    records: Sequence[TickRecord],
    short: Sequence[str],
    start: float,
    end: float | None,
    first_signal: float | None,
    deadband: int = 0,
) -> ShortageTimeline:
    """The timeline of one shortage of `short` units over decision `records` (in time order)."""
    before = [r for r in records if r.time < start]
    mode_before = before[-1].mode if before else None
    share_before = sum(before[-1].weights.get(n, 0) for n in short) if before else 0
    failover = None
    if first_signal is not None:
        failover = next(
            (r.time for r in records if r.time >= first_signal and _stopped_growth(r, short)), None
        )
    fallback = split = None
    if failover is not None and end is not None:
        since = max(end, failover)
        fallback = next(
            (
                r.time
                for r in records
                if r.time >= since and not _stopped_growth(r, short) and _restored(r, short, mode_before)
            ),
            None,
        )
        if fallback is not None:
            floor = share_before - deadband * len(short)
            split = next(
                (
                    r.time
                    for r in records
                    if r.time >= fallback
                    and r.mode == mode_before
                    and sum(r.weights.get(n, 0) for n in short) >= floor
                ),
                None,
            )
    until = fallback if fallback is not None else float("inf")
    modes = [r.mode for r in records if start <= r.time <= until and r.mode is not None]
    if mode_before is not None:
        modes = [mode_before, *modes]
    changes = sum(1 for a, b in zip(modes, modes[1:], strict=False) if a != b)
    return ShortageTimeline(first_signal, failover, fallback, split, changes)
