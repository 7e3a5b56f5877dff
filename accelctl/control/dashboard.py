"""What an operator sees while `watch` runs: a rich dashboard, or one log line per tick (--headless).

The dashboard is fed TickResults (Controller.on_tick) and renders from them alone, so it shows the
same numbers the audit log records. It keeps the last snapshot it saw: when the source goes down the
rows stay, marked stale, under the alarm.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.table import Table
from rich.text import Text

from accelctl.control.loop import TickResult
from accelctl.control.types import Decision, MetricsSnapshot
from accelctl.units import ResolvedUnit

SPARK = "▁▂▃▄▅▆▇█"
BAR_WIDTH = 10
WIDE = 110  # columns the full table needs with 20-character unit names
NARROW_DROPS = ("errors", "replicas")


def utc_clock(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%H:%M:%S")


def sparkline(values: list[float]) -> str:
    """One block per value, scaled to the largest; an all-zero history is a flat floor."""
    top = max(values, default=0.0)
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(int(v / top * (len(SPARK) - 1) + 0.5), len(SPARK) - 1)] for v in values)


def weight_bar(weight: int) -> str:
    filled = round(weight / 100 * BAR_WIDTH)
    return "█" * filled + "·" * (BAR_WIDTH - filled)


def weights_diff(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """`unit  old -> new (±d)` for every unit whose weight would change."""
    lines = []
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name, 0), after.get(name, 0)
        if a != b:
            lines.append(f"{name}  {a} -> {b} ({b - a:+d})")
    return lines


def mode_label(policy: str, mode: str) -> str:
    if policy == "auto":
        return "capacity (failover)" if mode == "capacity" else "cost"
    return mode


def summary_line(result: TickResult, policy: str, clock: Callable[[float], str] = utc_clock) -> str:
    """The --headless log line: time, mode, what happened to the weights, the reasons, any alarm."""
    d = result.decision
    parts = [clock(result.time), f"policy={policy}"]
    if d:
        parts.append(f"mode={d.mode}")
    weights = result.after if result.applied or not d else d.weights
    if result.applied:
        parts.append("applied")
    elif result.held:
        parts.append(f"held ({result.held_text()})")
    if weights:
        parts.append(" ".join(f"{n}={w}" for n, w in weights.items()))
    if d and d.planned_replicas is not None:
        parts.append("planned " + " ".join(f"{n}={r}" for n, r in d.planned_replicas.items()))
    if d and d.reasons:
        parts.append("| " + "; ".join(r.text() for r in d.reasons))
    if result.alarm:
        parts.append(f"| ALARM: {result.alarm.text()}")
    elif result.error:
        parts.append(f"| ERROR: {result.error}")
    return " ".join(parts)


class Dashboard:
    """Per-unit table, mode, last decision and its reasons, alarms and a total-throughput sparkline."""

    def __init__(
        self,
        units: tuple[ResolvedUnit, ...],
        policy: str,
        slo_s: float,
        interval_s: float,
        dry_run: bool = False,
        history: int = 60,
        clock: Callable[[float], str] = utc_clock,
    ):
        self.units, self.policy, self.slo_s, self.interval_s, self.dry_run = (
            units,
            policy,
            slo_s,
            interval_s,
            dry_run,
        )
        self.clock = clock
        self.last: TickResult | None = None
        self.snapshot: MetricsSnapshot | None = None
        self.decision: Decision | None = None
        self.decided_at: float | None = None
        self.changed: TickResult | None = None  # the last tick that wrote weights
        self.live: dict[str, int] = {}
        self.throughput: deque[float] = deque(maxlen=history)
        self.alarms: deque[str] = deque(maxlen=5)

    def update(self, result: TickResult) -> None:
        self.last = result
        self.live = dict(result.after)
        if result.snapshot is not None:
            self.snapshot = result.snapshot
            self.throughput.append(result.snapshot.total_rps())
        if result.decision is not None:
            self.decision, self.decided_at = result.decision, result.time
        if result.applied:
            self.changed = result
        if result.alarm:
            self.alarms.append(f"{self.clock(result.time)} {result.alarm.text()}")

    # ------------------------------------------------------------ rendering

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        wide = options.max_width >= WIDE
        yield Group(self._header(), self._table(wide), self._decision(), self._alarms(), self._sparkline())

    def _header(self) -> Text:
        t = Text()
        t.append("accelctl watch", style="bold")
        t.append(f"  policy {self.policy}")
        if self.decision:
            style = "bold red" if self.decision.mode == "capacity" else "bold green"
            t.append("  mode ")
            t.append(mode_label(self.policy, self.decision.mode), style=style)
        t.append(f"  every {self.interval_s:g}s")
        if self.dry_run:
            t.append("  DRY RUN (nothing is written)", style="bold yellow")
        if self.last:
            t.append(f"  last tick {self.clock(self.last.time)}: ")
            if self.last.applied:
                t.append("weights applied", style="green")
            elif self.last.error:
                t.append("error", style="red")
            else:
                t.append(f"held ({self.last.held_text()})" if self.last.held else "no change")
        return t

    def _table(self, wide: bool = True) -> Table:
        """Narrow terminals drop the weight bars, errors and replicas: numbers are never cut."""
        stale = self.last is not None and self.last.snapshot is None
        title = f"deployment units, p95 SLO {self.slo_s:g}s" + (
            " (last good metrics; source down)" if stale else ""
        )
        table = Table(
            title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, collapse_padding=True
        )
        columns = ["unit", "avail", "ready", "pending", "rps", "p95", "errors", "weight", "replicas", "$/h"]
        if not wide:
            columns = [c for c in columns if c not in NARROW_DROPS]
        for col in columns:
            table.add_column(col, justify="left" if col in ("unit", "weight") else "right", no_wrap=True)
        metrics = self.snapshot.units if self.snapshot else {}
        proposed = self.decision.weights if self.decision else {}
        total_rps = total_cost = 0.0
        for u in self.units:
            m = metrics.get(u.name)
            ok = self.decision.available.get(u.name) if self.decision else None
            live_w = self.live.get(u.name, 0)
            weight = Text(f"{weight_bar(live_w)} {live_w:>3}" if wide else f"{live_w:>3}")
            if u.name in proposed and proposed[u.name] != live_w:
                weight.append(f" → {proposed[u.name]}", style="yellow")
            stale_unit = self.decision is not None and u.name in self.decision.stale
            missing = self.decision is not None and u.name in self.decision.missing
            cells: dict[str, RenderableType] = {
                "unit": u.name,
                # Unknown units (no fresh data) keep their weight: neither yes nor NO.
                "avail": Text("stale", style="bold yellow")
                if stale_unit
                else Text("?", style="yellow")
                if missing
                else Text("–")
                if ok is None
                else Text("yes, frozen", style="yellow")  # serving, but a capacity signal: no growth planned
                if ok and not self.decision.can_grow.get(u.name, True)
                else Text("yes", style="green")
                if ok
                else Text("NO", style="bold red"),
                "weight": weight,
                "replicas": str(self.decision.desired_replicas.get(u.name, "–")) if self.decision else "–",
            }
            if m is not None:
                cost = u.replica_price_per_hour * m.ready
                total_rps += m.rps
                total_cost += cost
                pending = Text(str(m.pending), style="yellow" if m.pending else "")
                if m.capacity_events:
                    pending.append(f" +{m.capacity_events} ICE", style="bold red")
                cells.update(
                    {
                        "ready": f"{m.ready}/{m.desired}",
                        "pending": pending,
                        "rps": f"{m.rps:.2f}",
                        "p95": Text("–")
                        if m.p95 is None
                        else Text(f"{m.p95:.3f}", style="bold red" if m.p95 > self.slo_s else "green"),
                        "errors": Text(f"{m.error_rate:.1%}", style="red" if m.error_rate > 0.001 else ""),
                        "$/h": f"{cost:.2f}",
                    }
                )
            table.add_row(*(cells.get(c, "–") for c in columns))
        table.add_section()
        totals = {"unit": "total", "rps": f"{total_rps:.2f}", "$/h": f"{total_cost:.2f}"}
        table.add_row(*(totals.get(c, "") for c in columns), style="bold")
        return table

    def _decision(self) -> Text:
        t = Text()
        if self.decision is None:
            t.append("no decision yet", style="dim")
            return t
        t.append(f"last decision {self.clock(self.decided_at)}", style="bold")
        for reason in self.decision.reasons:
            t.append(f"\n  • {reason.text()}")
        if self.changed and self.changed.decision and self.changed.time != self.decided_at:
            # Why the weights that are live now were written, when that was an earlier tick.
            t.append(f"\nweights last written {self.clock(self.changed.time)}", style="bold")
            for reason in self.changed.decision.reasons:
                t.append(f"\n  • {reason.text()}")
        return t

    def _alarms(self) -> Text:
        t = Text()
        current = self.last.alarm if self.last else None
        if current:
            t.append(f"ALARM: {current.text()}", style="bold white on red")
        if self.alarms:
            t.append(("\n" if current else "") + "recent alarms:", style="red")
            for line in self.alarms:
                t.append(f"\n  {line}", style="red")
        return t

    def _sparkline(self) -> Text:
        values = list(self.throughput)
        t = Text("total throughput ")
        t.append(sparkline(values), style="cyan")
        if values:
            t.append(f" now {values[-1]:.2f} rps, max {max(values):.2f} rps over {len(values)} ticks")
        return t
