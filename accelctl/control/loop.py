"""The control loop: source -> policy -> actuator, once per interval.

`Controller.tick(now)` does one round and never raises: a failing source, a reading with numbers no
fleet produces (InvalidMetrics) or data older than `stale_after_s` holds the weights and raises an
alarm (a unit whose own data is stale keeps its weight while the others are decided), a failing
actuator keeps last-known-good and asks to be retried sooner. `run`
repeats ticks on an injected clock and sleep, so `watch` (wall clock) and `simulate` (simulated
clock) drive the very same code.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from pathlib import Path

from accelctl.control.actuators.base import Actuator
from accelctl.control.policy import PolicyContext, decide, resume_mode
from accelctl.control.sources.base import Source, UnitBinding
from accelctl.control.types import (
    Alarm,
    AlarmCode,
    Decision,
    InvalidMetrics,
    MetricsSnapshot,
    PolicyState,
    Standby,
)
from accelctl.errors import InputError
from accelctl.units import PolicySettings, ResolvedUnit

log = logging.getLogger("accelctl.watch")


class Hold(str, Enum):
    """Why a tick wrote nothing."""

    DEADBAND = "deadband"
    DRY_RUN = "dry_run"
    STALE = "stale_metrics"
    SOURCE_ERROR = "source_error"
    NOTHING_AVAILABLE = "nothing_available"
    INVALID_METRICS = "invalid_metrics"
    NO_METRICS = "no_metrics"  # the source answered with nothing about any unit
    STANDBY = "standby"  # another replica leads (leader election)


@dataclass
class TickResult:
    time: float
    before: dict[str, int]  # weights live before this tick, as far as the controller knows
    after: dict[str, int]  # weights live after it
    decision: Decision | None = None
    snapshot: MetricsSnapshot | None = None
    applied: bool = False
    held: Hold | None = None  # why nothing was decided or written
    alarm: Alarm | None = None
    error: str | None = None
    retry_in: float | None = None  # seconds until the next attempt, when sooner than the interval
    standby: Standby | None = None  # why this replica stands by, when held is STANDBY
    decision_s: float | None = (
        None  # seconds from the snapshot read to the decision (the exporter's histogram)
    )

    def held_text(self) -> str | None:
        """Why nothing was written, for the log line and the dashboard."""
        if self.held is None:
            return None
        return self.standby.text() if self.standby else self.held.value

    def audit_record(self, policy: str) -> dict:
        d = self.decision
        return {
            "time": self.time,
            "policy": policy,
            "mode": d.mode if d else None,
            "inputs": {n: asdict(m) for n, m in self.snapshot.units.items()} if self.snapshot else None,
            "source_age_s": self.snapshot.ages() if self.snapshot else None,
            "stale": d.stale if d else {},
            "missing": d.missing if d else {},
            "available": d.available if d else None,
            "weights_before": self.before,
            "weights_after": self.after,
            "proposed": d.weights if d else None,
            "desired_replicas": d.desired_replicas if d else None,
            "planned_replicas": d.planned_replicas if d else None,
            "can_grow": d.can_grow if d else None,
            "applied": self.applied,
            "reasons": [r.text() for r in d.reasons] if d else [],
            "reason_codes": [r.code.value for r in d.reasons] if d else [],
            "held": self.held.value if self.held else None,
            "standby": self.standby.text() if self.standby else None,
            "standby_code": self.standby.code.value if self.standby else None,
            "alarm": self.alarm.text() if self.alarm else None,
            "alarm_code": self.alarm.code.value if self.alarm else None,
            "error": self.error,
        }


def within_deadband(
    before: dict[str, int], after: dict[str, int], deadband: int, available: dict[str, bool]
) -> bool:
    """Small changes are not written, with two exceptions. A unit switching on always is: a unit
    coming back gets its first requests, and they are what grows it and probes its pool (auto fails
    over again on the launch they cause to fail). A routed unit taken to 0 because it is no longer
    available always is: it must be drained. A unit still available whose share rounds down to 0 is
    not switching off: writing each such rounding flapped a one-replica unit (in a fleet of a hundred
    rps its share is under one point) on and off tick after tick. A unit held for stale data keeps
    its weight and forces nothing. The caller still writes weights that would overload a unit."""
    for name in set(before) | set(after):
        a, b = before.get(name, 0), after.get(name, 0)
        switches_on = a == 0 and b > 0
        drained = a > 0 and b == 0 and not available.get(name, False)
        if switches_on or drained or abs(a - b) > deadband:
            return False
    return True


@dataclass
class Controller:
    policy: str
    units: tuple[ResolvedUnit, ...]
    bindings: list[UnitBinding]
    source: Source
    actuator: Actuator
    settings: PolicySettings
    headroom: float = 0.8
    lead_s: dict[str, float] = field(default_factory=dict)  # unit -> node launch + pod start-up (plan)
    node_launch_s: float = 0.0
    dry_run: bool = False
    retry_base_s: float = 1.0
    audit: Callable[[dict], None] | None = None
    on_tick: list[Callable[[TickResult], None]] = field(default_factory=list)
    state: PolicyState = field(default_factory=PolicyState)
    live: dict[str, int] | None = None  # what the actuator reported or we last wrote
    gate: Callable[[float], Standby | None] | None = None  # why this replica must stand by (leader election)
    # Written, before any metrics are read, when the route carries no weights at all: deploy renders the
    # route without them so GitOps re-applies never reset them (docs/gitops.md); traffic flows from the
    # start instead of waiting for the first decision on fresh metrics.
    seed: dict[str, int] | None = None
    failures: int = 0

    def tick(self, now: float) -> TickResult:
        self._decided_in: float | None = None
        try:
            result = self._tick(now)
            if result.decision is not None:
                result.decision_s = self._decided_in
        except Exception as exc:  # the loop survives everything; the reason goes to the log and audit
            log.exception("tick failed")
            before = dict(self.live or {})
            result = TickResult(now, before, before, error=f"{type(exc).__name__}: {exc}")
        if self.audit:
            try:
                self.audit(result.audit_record(self.policy))
            except Exception as exc:  # one line per tick (disk full...), the loop goes on
                log.error("audit write failed: %s: %s", type(exc).__name__, exc)
        for hook in self.on_tick:
            try:
                hook(result)
            except Exception:
                log.exception("tick hook failed")
        return result

    def _tick(self, now: float) -> TickResult:
        if self.gate is not None:
            standby = self.gate(now)
            if standby:
                before = dict(self.live or {})
                return TickResult(now, before, before, held=Hold.STANDBY, standby=standby)
        try:
            # Read back every tick: the audit shows what was really live, and a hand edit is seen.
            self.live = self.actuator.read()
        except Exception as exc:
            before = dict(self.live or {})
            return self._failed(now, before, None, None, f"reading live weights: {exc}")
        if not self.live and self.seed and not self.dry_run:
            try:
                self.actuator.apply(self.seed)
            except Exception as exc:
                return self._failed(now, {}, None, None, f"writing the initial weights: {exc}")
            log.info("the route had no weights; wrote the initial ones: %s", self.seed)
            self.live = dict(self.seed)
        before = dict(self.live)
        try:
            snapshot = self.source.read(self.bindings, now)
        except InvalidMetrics as exc:
            alarm = Alarm(AlarmCode.INVALID_METRICS, detail=exc.message)
            return TickResult(now, before, before, held=Hold.INVALID_METRICS, alarm=alarm)
        except Exception as exc:
            alarm = Alarm(AlarmCode.SOURCE_FAILED, detail=str(exc))
            return TickResult(now, before, before, held=Hold.SOURCE_ERROR, alarm=alarm)
        if not any(u.name in snapshot.units for u in self.units):
            # Nothing about any unit: the source is blind, not the fleet gone.
            return TickResult(
                now,
                before,
                before,
                snapshot=snapshot,
                held=Hold.NO_METRICS,
                alarm=Alarm(AlarmCode.NO_METRICS),
            )
        ctx = PolicyContext(
            self.units,
            snapshot,
            self.settings,
            self.headroom,
            lead_s=self.lead_s,
            node_launch_s=self.node_launch_s,
        )
        if not self.state.weights and before:
            # First decision of this process: carry on from what is live, with the dwell counted from now.
            self.state = replace(
                self.state, weights=before, mode=resume_mode(self.units, before), mode_since=now
            )
        started = time.perf_counter()
        decision, self.state = decide(self.policy, ctx, self.state)
        self._decided_in = time.perf_counter() - started
        if decision.planned_replicas is not None and not self.dry_run:
            # Every tick, deadband or alarm or not: KEDA's planned-replicas trigger reads the latest plan.
            try:
                self.actuator.record_replicas(decision.planned_replicas)
            except Exception as exc:
                return self._failed(now, before, decision, snapshot, f"recording planned replicas: {exc}")
        if decision.alarm:
            return TickResult(
                now,
                before,
                before,
                decision,
                snapshot,
                held=Hold.NOTHING_AVAILABLE,
                alarm=decision.alarm,
            )
        stale = self._stale_alarm(decision)
        if len(decision.stale) + len(decision.missing) == len(self.units):
            # No fresh data about any unit (those read are stale): nothing to decide, nothing to write.
            alarm = stale or Alarm(AlarmCode.NO_FRESH_DATA)
            return TickResult(now, before, before, decision, snapshot, held=Hold.STALE, alarm=alarm)
        target = decision.weights
        demand = snapshot.total_rps()
        if (
            before
            and within_deadband(before, target, self.settings.deadband, decision.available)
            # The deadband never keeps weights that route a unit more than it can take.
            and not decision.overloads(before, demand)
        ):
            self.failures = 0
            held = Hold.STALE if stale else Hold.DEADBAND
            return TickResult(now, before, before, decision, snapshot, held=held, alarm=stale)
        if self.dry_run:
            return TickResult(now, before, before, decision, snapshot, held=Hold.DRY_RUN, alarm=stale)
        try:
            self.actuator.apply(target)
        except Exception as exc:
            return self._failed(now, before, decision, snapshot, f"applying weights: {exc}")
        self.failures = 0
        self.live = dict(target)
        return TickResult(now, before, dict(target), decision, snapshot, applied=True, alarm=stale)

    def _stale_alarm(self, decision: Decision) -> Alarm | None:
        if not decision.stale:
            return None
        limit = {"limit_s": self.settings.stale_after_s}
        return Alarm(AlarmCode.STALE_METRICS, limit, ages_s=dict(decision.stale))

    def _failed(self, now, before, decision, snapshot, error: str) -> TickResult:
        self.failures += 1
        retry = min(self.retry_base_s * 2 ** (self.failures - 1), self.settings.interval_s)
        return TickResult(
            now,
            before,
            before,
            decision,
            snapshot,
            error=error,
            retry_in=retry,
            alarm=Alarm(AlarmCode.ACTUATOR_FAILING, {"failures": self.failures}, detail=error),
        )

    def run(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        should_stop: Callable[[], bool] = lambda: False,
        max_ticks: int | None = None,
    ) -> None:
        ticks = 0
        while not should_stop() and (max_ticks is None or ticks < max_ticks):
            started = clock()
            result = self.tick(started)
            ticks += 1
            if max_ticks is not None and ticks >= max_ticks:
                break
            # Fixed rate, not fixed delay: a slow source does not push every later tick back.
            wait = result.retry_in if result.retry_in is not None else self.settings.interval_s
            sleep(max(0.0, started + wait - clock()))


def jsonl_audit(path: Path | str) -> Callable[[dict], None]:
    """An audit sink appending one JSON line per decision; each line is flushed whole. Checked here,
    before the first tick: a path the loop cannot append to is an InputError, not an error per tick."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: the audit log is a directory; give a file path (--audit-log)")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with p.open("a"):
            pass
    except OSError as exc:
        raise InputError(
            f"{p}: cannot append to the audit log: {exc.strerror}; give a writable file path (--audit-log)"
        ) from None

    def write(record: dict) -> None:
        with p.open("a") as fh:
            fh.write(json.dumps(record, sort_keys=True, default=str) + "\n")

    return write
