"""The control loop on an injected clock, with an in-memory source and actuator.

The fakes are honest: the source returns what a test scripted for that time (or raises like a dead
endpoint), the actuator stores what it was given (or raises like a refused PATCH). Nothing about the
loop is stubbed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pytest
from paper_fleet import NAMES, paper_units, snapshot
from pydantic import BaseModel

from accelctl.control.actuators.base import Actuator
from accelctl.control.loop import Controller, Hold, TickResult, jsonl_audit, within_deadband
from accelctl.control.sources.base import Source, UnitBinding
from accelctl.control.types import Alarm, AlarmCode, MetricsSnapshot, Standby, StandbyCode, UnitMetrics
from accelctl.units import PolicySettings

COST_WEIGHTS = {
    "inf2-neuron": 32,
    "trn1-neuron": 37,
    "g5-cuda-compile": 18,
    "g6-cuda-compile": 7,
    "g5-cuda": 6,
}
# Cost mode without inf2 (test_policy.py has the arithmetic).
NO_INF2 = {"inf2-neuron": 0, "trn1-neuron": 54, "g5-cuda-compile": 26, "g6-cuda-compile": 11, "g5-cuda": 9}
# Capacity mode without inf2: 85.25, 85.25, 61, 60 per minute.
CAPACITY_NO_INF2 = {
    "inf2-neuron": 0,
    "trn1-neuron": 29,
    "g5-cuda-compile": 29,
    "g6-cuda-compile": 21,
    "g5-cuda": 21,
}


class Empty(BaseModel):
    pass


class ScriptedSource(Source):
    config_model = Empty

    def __init__(self, script: Callable[[float], MetricsSnapshot]):
        self.script = script
        self.down = False
        self.reads: list[float] = []

    def read(self, units: list[UnitBinding], now: float) -> MetricsSnapshot:
        self.reads.append(now)
        if self.down:
            raise ConnectionError("connection refused")
        return self.script(now)


class MemoryActuator(Actuator):
    config_model = Empty

    def __init__(self, weights: dict[str, int] | None = None):
        self.weights = dict(weights or {})
        self.fail_next = 0
        self.applied: list[dict[str, int]] = []

    def read(self) -> dict[str, int]:
        return dict(self.weights)

    def apply(self, weights: dict[str, int]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("503 from the API server")
        self.weights = dict(weights)
        self.applied.append(dict(weights))


class FakeClock:
    def __init__(self, t: float = 0.0):
        self.t = t
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s


def controller(source: Source, actuator: Actuator, policy: str = "cost", **kw) -> Controller:
    settings = PolicySettings(**{"interval_s": 15.0, "deadband": 2, **kw.pop("settings", {})})
    return Controller(
        policy, paper_units(), [UnitBinding(n) for n in NAMES], source, actuator, settings, **kw
    )


def test_first_tick_writes_cost_mode_weights_and_audits_them(tmp_path):
    log = tmp_path / "audit.jsonl"
    act = MemoryActuator()
    c = controller(ScriptedSource(lambda t: snapshot(t)), act, audit=jsonl_audit(log))
    r = c.tick(0.0)
    assert r.applied and act.weights == COST_WEIGHTS and r.before == {} and r.after == COST_WEIGHTS
    record = json.loads(log.read_text().splitlines()[0])
    assert record["mode"] == "cost" and record["weights_after"] == COST_WEIGHTS and record["applied"] is True
    assert record["inputs"]["inf2-neuron"]["ready"] == 1 and record["reason_codes"] == ["cost_mode"]


def test_a_route_without_weights_gets_the_seed_before_any_metrics_are_read():
    """deploy renders the route without weights (docs/gitops.md): the first weights cannot wait for
    fresh metrics, which a fleet with no traffic yet may not have."""
    src, act = ScriptedSource(lambda t: MetricsSnapshot(t, {})), MemoryActuator()
    act.fail_next = 1
    c = controller(src, act, seed=COST_WEIGHTS)
    r = c.tick(0.0)  # the write fails: retried next tick, nothing read from the source
    assert r.error == "writing the initial weights: 503 from the API server" and src.reads == []
    r = c.tick(15.0)
    assert act.applied == [COST_WEIGHTS] and r.before == COST_WEIGHTS
    assert r.held is Hold.NO_METRICS and act.weights == COST_WEIGHTS  # then the usual hold
    c.tick(30.0)
    assert act.applied == [COST_WEIGHTS]  # written once: the route has weights now
    dry = controller(src, MemoryActuator(), seed=COST_WEIGHTS, dry_run=True)
    dry.tick(0.0)
    assert dry.actuator.applied == []


def test_source_down_holds_the_weights_and_raises_an_alarm():
    src, act = ScriptedSource(lambda t: snapshot(t)), MemoryActuator(COST_WEIGHTS)
    c = controller(src, act)
    src.down = True
    r = c.tick(15.0)
    assert r.held is Hold.SOURCE_ERROR and r.alarm.code is AlarmCode.SOURCE_FAILED
    assert r.alarm.detail == "connection refused"  # the source's own error, passed on
    assert not r.applied and act.applied == [] and act.weights == COST_WEIGHTS and r.after == COST_WEIGHTS


def test_stale_or_missing_metrics_hold_the_weights():
    act = MemoryActuator(COST_WEIGHTS)
    # Every unit's newest data is 61 s old: nothing is known, so nothing moves, and an alarm says why.
    stale = controller(ScriptedSource(lambda t: snapshot(t, short={"inf2-neuron"}, as_of=t - 61.0)), act)
    r = stale.tick(100.0)
    assert r.held is Hold.STALE and act.applied == []
    assert r.alarm.code is AlarmCode.STALE_METRICS and r.alarm.values == {"limit_s": 60.0}
    assert r.alarm.ages_s == dict.fromkeys(NAMES, 61.0)
    assert r.decision.mode == "cost" and r.decision.stale == dict.fromkeys(NAMES, 61.0)
    empty = controller(ScriptedSource(lambda t: MetricsSnapshot(t, {})), act)
    r = empty.tick(100.0)
    assert r.held is Hold.NO_METRICS and r.alarm.code is AlarmCode.NO_METRICS
    assert act.applied == []
    # One unit without a reading is unknown, not gone: it keeps its weight, and nothing moves.
    partial = controller(ScriptedSource(lambda t: snapshot(t, names=NAMES[1:])), act)
    r = partial.tick(100.0)
    assert r.held is Hold.DEADBAND and r.alarm is None and act.weights == COST_WEIGHTS
    assert r.decision.missing == {"inf2-neuron": 0.0}


@pytest.mark.parametrize("bad", [{"rps": math.inf}, {"rps": math.nan}, {"rps": -1.0}, {"error_rate": 2.0}])
def test_a_reading_no_fleet_produces_is_an_alarm_not_an_exception(bad):
    src, act = (
        ScriptedSource(lambda t: MetricsSnapshot(t, {"inf2-neuron": UnitMetrics(ready=1, **bad)})),
        MemoryActuator(COST_WEIGHTS),
    )
    audit: list[dict] = []
    c = controller(src, act, policy="auto", audit=audit.append)
    r = c.tick(15.0)
    assert r.held is Hold.INVALID_METRICS and r.error is None and act.applied == []
    assert r.alarm.code is AlarmCode.INVALID_METRICS and next(iter(bad)) in r.alarm.detail  # names the field
    assert audit[0]["held"] == "invalid_metrics" and audit[0]["alarm_code"] == "invalid_metrics"
    assert audit[0]["alarm"] == r.alarm.text()
    assert c.state.mode == "cost"  # nothing decided: the mode stays


def test_actuator_failing_is_retried_with_backoff_keeping_last_known_good():
    src, act = (
        ScriptedSource(lambda t: snapshot(t, short={"inf2-neuron"} if t >= 15 else set())),
        MemoryActuator(),
    )
    c = controller(src, act, retry_base_s=1.0)
    assert c.tick(0.0).applied  # t=0: cost weights live
    results: list[TickResult] = []
    c.on_tick.append(results.append)
    act.fail_next = 5  # from t=15 inf2 is short, and the next five PATCHes fail
    clock = FakeClock(15.0)
    c.run(clock, clock.sleep, max_ticks=6)
    # Failures 1..5 retry after 1, 2, 4, 8 s, then the interval (15 s) caps the backoff.
    assert [r.retry_in for r in results[:5]] == [1.0, 2.0, 4.0, 8.0, 15.0]
    assert [r.time for r in results] == [15.0, 16.0, 18.0, 22.0, 30.0, 45.0]
    assert [r.alarm.values["failures"] for r in results[:5]] == [1, 2, 3, 4, 5]
    for r in results[:5]:
        assert r.error == "applying weights: 503 from the API server"
        assert r.alarm.code is AlarmCode.ACTUATOR_FAILING and r.alarm.detail == r.error
        assert r.after == COST_WEIGHTS  # last-known-good stays live
    assert act.applied == [COST_WEIGHTS, NO_INF2]
    assert results[5].applied and act.weights == NO_INF2 and c.failures == 0


def test_all_units_unavailable_writes_nothing():
    act = MemoryActuator(COST_WEIGHTS)
    c = controller(ScriptedSource(lambda t: snapshot(t, short=set(NAMES))), act)
    r = c.tick(0.0)
    assert r.held is Hold.NOTHING_AVAILABLE and r.alarm.code is AlarmCode.NOTHING_AVAILABLE
    assert act.applied == [] and act.weights == COST_WEIGHTS
    # Also on a first start with nothing live: never all zeros.
    empty = MemoryActuator()
    r = controller(ScriptedSource(lambda t: snapshot(t, short=set(NAMES))), empty).tick(0.0)
    assert empty.applied == [] and r.alarm.code is AlarmCode.NOTHING_AVAILABLE


@pytest.mark.parametrize("code", list(AlarmCode))
def test_every_alarm_renders_its_units_numbers_and_error(code):
    alarm = Alarm(code, {"limit_s": 60.0, "failures": 3}, {"b": 90.4, "a": 61.0}, detail="503 from the API")
    text = alarm.text()
    assert text and "{" not in text  # every field the template names is filled
    if code is AlarmCode.STALE_METRICS:
        assert "60s" in text and text.index("a 61s") < text.index("b 90s")  # units by name, with ages
    if code is AlarmCode.ACTUATOR_FAILING:
        assert "3x" in text
    if code in (AlarmCode.SOURCE_FAILED, AlarmCode.INVALID_METRICS, AlarmCode.ACTUATOR_FAILING):
        assert "503 from the API" in text


@pytest.mark.parametrize("signal_at", [0.5, 14.9, 15.0, 37.0, 44.99])
def test_capacity_signal_to_new_weights_is_at_most_one_interval(signal_at):
    # inf2's pool reports insufficient capacity from `signal_at` on; ticks run at 0, 15, 30, 45, ...
    src = ScriptedSource(lambda t: snapshot(t, short={"inf2-neuron"} if t >= signal_at else set()))
    act = MemoryActuator()
    clock = FakeClock()
    applied_at: list[float] = []
    c = controller(src, act, policy="auto")
    c.on_tick.append(
        lambda r: applied_at.append(r.time) if r.applied and r.after["inf2-neuron"] == 0 else None
    )
    c.run(clock, clock.sleep, max_ticks=5)
    assert len(applied_at) == 1
    delay = applied_at[0] - signal_at
    assert 0 <= delay <= 15.0  # one interval
    assert act.weights == CAPACITY_NO_INF2  # 0.6756 < 0.8: failed over, not just inf2 drained
    assert clock.sleeps == [15.0] * 4


def test_a_slow_tick_does_not_delay_the_schedule():
    clock = FakeClock()

    def slow(t: float) -> MetricsSnapshot:
        clock.t += 4.0  # the source takes 4 s to answer
        return snapshot(t)

    c = controller(ScriptedSource(slow), MemoryActuator())
    ticks: list[float] = []
    c.on_tick.append(lambda r: ticks.append(r.time))
    c.run(clock, clock.sleep, max_ticks=3)
    assert ticks == [0.0, 15.0, 30.0] and clock.sleeps == [11.0, 11.0]


def test_deadband_skips_small_changes_and_roundings_to_0_but_never_a_switch_on_or_a_drain():
    up = {"a": True, "b": True, "c": True}
    assert within_deadband({"a": 50, "b": 50}, {"a": 52, "b": 48}, 2, up)
    assert not within_deadband({"a": 50, "b": 50}, {"a": 53, "b": 47}, 2, up)
    # b is out (no Ready replica, or A = 0 under auto): its last point must go, however small.
    assert not within_deadband({"a": 99, "b": 1}, {"a": 100, "b": 0}, 2, {**up, "b": False})
    # b still serves and its exact share rounds 1 -> 0: a 1-point change like any other, not a switch.
    assert within_deadband({"a": 99, "b": 1}, {"a": 100, "b": 0}, 2, up)
    # c switches on: always written, its first requests are what grows it and probes its pool.
    assert not within_deadband({"a": 100}, {"a": 99, "c": 1}, 2, up)
    # b is held for stale data (unavailable, weight kept at 3): nothing is forced for it.
    assert within_deadband({"a": 97, "b": 3}, {"a": 97, "b": 3}, 2, {**up, "b": False})
    near = {**COST_WEIGHTS, "inf2-neuron": 34, "trn1-neuron": 35}
    act = MemoryActuator(near)
    r = controller(ScriptedSource(lambda t: snapshot(t)), act).tick(0.0)
    assert r.held is Hold.DEADBAND and act.applied == [] and r.decision.weights == COST_WEIGHTS


def test_live_weights_are_read_back_every_tick():
    act = MemoryActuator()
    c = controller(ScriptedSource(lambda t: snapshot(t)), act)
    c.tick(0.0)
    act.weights = dict.fromkeys(NAMES, 20)  # someone edited the Ingress by hand
    r = c.tick(15.0)
    assert r.before == dict.fromkeys(NAMES, 20) and r.applied and act.weights == COST_WEIGHTS


def test_dry_run_decides_but_writes_nothing():
    act = MemoryActuator(dict.fromkeys(NAMES, 20))
    r = controller(ScriptedSource(lambda t: snapshot(t)), act, dry_run=True).tick(0.0)
    assert r.held is Hold.DRY_RUN and act.applied == [] and r.decision.weights == COST_WEIGHTS
    assert r.after == r.before == dict.fromkeys(NAMES, 20)


def test_standby_replica_reads_and_writes_nothing():
    src, act = ScriptedSource(lambda t: snapshot(t)), MemoryActuator()
    standby = Standby(StandbyCode.HELD_ELSEWHERE, "ops/watch", holder="watch-0", values={"lease_s": 45.0})
    c = controller(src, act, gate=lambda now: standby)
    r = c.tick(0.0)
    assert r.held is Hold.STANDBY and r.standby is standby
    assert r.audit_record("cost")["standby_code"] == "held_elsewhere"
    assert src.reads == [] and act.applied == []


def test_tick_never_raises():
    def broken(t: float) -> MetricsSnapshot:
        return MetricsSnapshot(t, None)  # a source bug: not a snapshot the loop can read

    audit: list[dict] = []
    c = controller(
        ScriptedSource(broken), MemoryActuator(), settings={"pending_bound": 0}, audit=audit.append
    )
    r = c.tick(0.0)
    assert (
        r.error.startswith(("TypeError", "AttributeError")) and not r.applied and audit[0]["error"] == r.error
    )
    c.audit = lambda rec: (_ for _ in ()).throw(
        OSError("disk full")
    )  # a failing audit sink is logged, not raised
    assert c.tick(15.0).error


def test_reading_live_weights_failing_counts_as_an_actuator_failure():
    class Unreadable(MemoryActuator):
        def read(self):
            raise PermissionError("ingresses is forbidden")

    r = controller(ScriptedSource(lambda t: snapshot(t)), Unreadable()).tick(0.0)
    assert r.error == "reading live weights: ingresses is forbidden" and r.retry_in == 1.0 and not r.applied


def test_a_restart_during_failover_keeps_capacity_mode_for_the_dwell():
    # A new process (or a new leader) finds capacity-mode weights live and inf2 healthy again.
    # Over the four routed units cost mode would be 0/54/26/11/9 and capacity mode 0/29/29/21/21:
    # the live weights are capacity mode, so it resumes there and falls back only after 120 s.
    act = MemoryActuator(CAPACITY_NO_INF2)
    c = controller(ScriptedSource(lambda t: snapshot(t)), act, policy="auto", settings={"min_dwell_s": 120.0})
    modes = {t: c.tick(t).decision.mode for t in (1000.0, 1015.0, 1105.0, 1120.0)}
    assert modes == {1000.0: "capacity", 1015.0: "capacity", 1105.0: "capacity", 1120.0: "cost"}
    assert act.weights == COST_WEIGHTS
    # Cost-mode weights live: it resumes in cost mode.
    c = controller(ScriptedSource(lambda t: snapshot(t)), MemoryActuator(COST_WEIGHTS), policy="auto")
    r = c.tick(0.0)
    assert r.decision.mode == "cost" and r.held is Hold.DEADBAND
