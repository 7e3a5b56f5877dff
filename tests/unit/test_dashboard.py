"""The watch dashboard rendered to a recording console, fed by real ticks of the controller."""

from __future__ import annotations

from paper_fleet import NAMES, paper_units, snapshot
from rich.console import Console
from test_loop import MemoryActuator, ScriptedSource, controller

from accelctl.control.dashboard import Dashboard, sparkline, summary_line, weight_bar, weights_diff
from accelctl.control.types import (
    AlarmCode,
    MetricsSnapshot,
    Reason,
    ReasonCode,
    Standby,
    StandbyCode,
    UnitMetrics,
)

T0 = 1_742_937_600.0  # 2025-03-25 21:20:00 UTC


def render(dash: Dashboard, width: int = 160) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(dash)
    return console.export_text()


def row(text: str, first: str) -> str:
    return next(line.strip() for line in text.splitlines() if line.strip().startswith(f"{first} "))


def fleet_script(t: float) -> MetricsSnapshot:
    # Load grows by 1 rps a tick on trn1; inf2's pool runs out of capacity from the third tick.
    i = round((t - T0) / 15)
    units = {n: UnitMetrics(rps=1.0, p95=0.5, ready=2, desired=2) for n in NAMES}
    units["trn1-neuron"] = UnitMetrics(rps=1.0 + i, p95=0.7, ready=1, desired=2, pending=1, error_rate=0.02)
    if i >= 2:
        units["inf2-neuron"] = UnitMetrics(rps=1.0, p95=0.6, ready=2, desired=3, pending=1, capacity_events=2)
    return MetricsSnapshot(t, units)


def run_ticks(n: int, policy: str = "auto", **kw):
    src, act = ScriptedSource(fleet_script), MemoryActuator()
    c = controller(src, act, policy=policy)
    dash = Dashboard(c.units, policy, slo_s=0.9, interval_s=15.0, **kw)
    c.on_tick.append(dash.update)
    for i in range(n):
        c.tick(T0 + 15 * i)
    return dash, src, act


def test_rows_show_each_units_metrics_weight_and_cost():
    dash, _, act = run_ticks(1)
    text = render(dash)
    # trn1 is short of desired (1/2) but within the SLO (0.7 <= 0.9): still available.
    # Cost-mode weights of the paper fleet (test_policy.py): 32, 37, 18, 7, 6.
    assert act.weights == {
        "inf2-neuron": 32,
        "trn1-neuron": 37,
        "g5-cuda-compile": 18,
        "g6-cuda-compile": 7,
        "g5-cuda": 6,
    }
    line = {n: row(text, n) for n in NAMES}
    assert "yes" in line["inf2-neuron"] and "2/2" in line["inf2-neuron"] and "0.500" in line["inf2-neuron"]
    assert f"{weight_bar(32)}  32" in line["inf2-neuron"]
    assert "yes" in line["trn1-neuron"] and "1/2" in line["trn1-neuron"] and "0.700" in line["trn1-neuron"]
    assert "2.0%" in line["trn1-neuron"] and f"{weight_bar(37)}  37" in line["trn1-neuron"]
    # $/h = price per replica-hour × ready: inf2 0.7582 × 2 = 1.52; trn1 1.3438 × 1 = 1.34.
    assert line["inf2-neuron"].endswith("1.52") and line["trn1-neuron"].endswith("1.34")
    # Totals: 5 rps; 2·(0.7582 + 1.006 + 0.8048 + 1.006) + 1.3438 = 8.49 $/h.
    total = row(text, "total")
    assert "5.00" in total and total.endswith("8.49")
    assert "deployment units, p95 SLO 0.9s" in text and "policy auto" in text and "mode cost" in text
    assert "last tick 21:20:00: weights applied" in text
    mode = next(r for r in dash.decision.reasons if r.code is ReasonCode.MODE)
    assert (mode.detail, mode.values) == ("cost", {"share": 1.0}) and mode.text() in text


def test_failover_shows_mode_reason_and_capacity_signal():
    dash, _, _ = run_ticks(3)
    text = render(dash)
    # Tick 3: inf2 has 2 insufficient-capacity events: share 1 − 21703.0/66909.0 = 0.676 < 0.8.
    assert "mode capacity (failover)" in text
    inf2 = row(text, "inf2-neuron")
    assert "NO" in inf2 and "2/3" in inf2 and f"{weight_bar(0)}   0" in inf2
    assert "+2 ICE" in text
    reasons = dash.decision.reasons
    assert Reason(ReasonCode.CAPACITY_EVENTS, "inf2-neuron", {"events": 2}) in reasons
    assert ReasonCode.FAILOVER in {r.code for r in reasons}
    assert all(r.text() in text for r in reasons)  # the dashboard renders every reason


def test_held_tick_still_shows_why_the_live_weights_were_written():
    dash, _, _ = run_ticks(4)  # tick 4 changes nothing beyond the deadband
    text = render(dash)
    assert "last tick 21:20:45: held (deadband)" in text
    assert "weights last written 21:20:30" in text
    failover = next(r for r in dash.changed.decision.reasons if r.code is ReasonCode.FAILOVER)
    assert text.index("weights last written") < text.index(failover.text())


def test_source_down_keeps_rows_and_shows_the_alarm():
    src, act = ScriptedSource(fleet_script), MemoryActuator()
    c = controller(src, act)
    dash = Dashboard(c.units, "cost", 0.9, 15.0)
    c.on_tick.append(dash.update)
    c.tick(T0)
    src.down = True
    c.tick(T0 + 15)
    text = render(dash)
    alarm = dash.last.alarm
    assert alarm.code is AlarmCode.SOURCE_FAILED and alarm.detail == "connection refused"
    assert f"ALARM: {alarm.text()}" in text
    assert "recent alarms:" in text and f"21:20:15 {alarm.text()}" in text
    assert "(last good metrics; source down)" in text
    assert "held (source_error)" in text
    assert "inf2-neuron" in text and "0.500" in text  # the last good rows stay


def test_units_without_fresh_data_show_as_stale_or_unknown_not_unavailable():
    def script(t: float) -> MetricsSnapshot:
        snap = snapshot(t, names=NAMES[1:])  # inf2 missing from the read
        old = {"trn1-neuron": UnitMetrics(rps=1.0, ready=2, desired=2, as_of=t - 600)}  # trn1 stale
        return MetricsSnapshot(t, {**snap.units, **old})

    c = controller(ScriptedSource(script), MemoryActuator(dict(zip(NAMES, (32, 37, 18, 7, 6), strict=True))))
    dash = Dashboard(c.units, "cost", 0.9, 15.0)
    c.on_tick.append(dash.update)
    c.tick(T0)
    text = render(dash)
    assert " ? " in row(text, "inf2-neuron") and "stale" in row(text, "trn1-neuron")
    alarm = dash.last.alarm
    assert alarm.code is AlarmCode.STALE_METRICS and alarm.ages_s == {"trn1-neuron": 600.0}
    assert f"ALARM: {alarm.text()}" in text


def test_sparkline_of_total_throughput():
    dash, _, _ = run_ticks(4)
    # Totals per tick: 5, 6, 7, 8 rps -> scaled to 8: 0.625, 0.75, 0.875, 1.0 of 7 steps.
    assert sparkline([5.0, 6.0, 7.0, 8.0]) == "▅▆▇█"
    text = render(dash)
    assert "total throughput ▅▆▇█ now 8.00 rps, max 8.00 rps over 4 ticks" in text
    assert sparkline([0.0, 0.0]) == "▁▁" and sparkline([]) == ""


def test_dry_run_banner_and_proposed_weights():
    src, act = ScriptedSource(lambda t: snapshot(t)), MemoryActuator(dict.fromkeys(NAMES, 20))
    c = controller(src, act, dry_run=True)
    dash = Dashboard(c.units, "cost", 0.9, 15.0, dry_run=True)
    c.on_tick.append(dash.update)
    c.tick(T0)
    text = render(dash)
    assert "DRY RUN (nothing is written)" in text and "held (dry_run)" in text
    assert "20 → 32" in text and "20 → 37" in text  # live 20, proposed cost-mode weight


def test_summary_line_and_diff():
    src, act = ScriptedSource(lambda t: snapshot(t, short={"inf2-neuron"})), MemoryActuator()
    r = controller(src, act, policy="auto").tick(T0)
    line = summary_line(r, "auto")
    assert line.startswith("21:20:00 policy=auto mode=capacity applied inf2-neuron=0 trn1-neuron=29")
    codes = [x.code for x in r.decision.reasons]
    assert codes == [ReasonCode.CAPACITY_EVENTS, ReasonCode.FAILOVER, ReasonCode.MODE]
    assert line.endswith("| " + "; ".join(x.text() for x in r.decision.reasons))
    src.down = True
    held = controller(src, act).tick(T0 + 15)
    line = summary_line(held, "cost")
    # Held: the line carries the weights still live, then the alarm.
    assert line == (
        "21:20:15 policy=cost held (source_error) inf2-neuron=0 trn1-neuron=29 g5-cuda-compile=29 "
        f"g6-cuda-compile=21 g5-cuda=21 | ALARM: {held.alarm.text()}"
    )
    assert weights_diff({"a": 50, "b": 50}, {"a": 60, "b": 40, "c": 0}) == [
        "a  50 -> 60 (+10)",
        "b  50 -> 40 (-10)",
    ]


def test_empty_dashboard_renders():
    text = render(Dashboard(paper_units(), "plan", 0.9, 15.0))
    assert "no decision yet" in text and "policy plan" in text


def test_a_narrow_terminal_drops_bars_errors_and_replicas_but_keeps_every_number():
    dash, _, _ = run_ticks(3)
    text = render(dash, width=80)
    assert max(len(line.rstrip()) for line in text.splitlines() if line.startswith(" ")) <= 80
    assert "errors" not in text and "replicas" not in text and "█" not in text.split("total throughput")[0]
    # inf2: ready 2/3, 1 pending and 2 insufficient-capacity events, 1 rps, p95 0.6, weight 0, 2 × 0.7582 $/h.
    assert row(text, "inf2-neuron").split() == [
        "inf2-neuron",
        "NO",
        "2/3",
        "1",
        "+2",
        "ICE",
        "1.00",
        "0.600",
        "0",
        "1.52",
    ]


def test_a_standby_tick_renders_the_lease_and_why_it_stands_by():
    standby = Standby(StandbyCode.UNREACHABLE, "ops/watch", detail="connection refused")
    src, act = ScriptedSource(lambda t: snapshot(t)), MemoryActuator()
    r = controller(src, act, gate=lambda now: standby).tick(T0)
    assert f"held ({standby.text()})" in summary_line(r, "plan")
    dash = Dashboard(paper_units(), "plan", 0.9, 15.0)
    dash.update(r)
    assert f"held ({standby.text()})" in render(dash)
    # Every code renders with the fields it documents (a missing one would raise KeyError here).
    texts = {
        Standby(
            code, "ops/watch", holder="watch-0", values={"lease_s": 45.0, "status": 503}, detail="x"
        ).text()
        for code in StandbyCode
    }
    assert len(texts) == len(StandbyCode) and all(t.startswith("standby: lease") for t in texts)
    assert not any("None" in t or "{" in t for t in texts)
