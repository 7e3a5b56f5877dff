"""What the demo shows while it runs: watch's dashboard under a header with the demo's own story,
or, headless, one plain line per tick and per event."""

from __future__ import annotations

import threading
from collections.abc import Callable

from rich.console import Console, ConsoleOptions, Group
from rich.text import Text

from accelctl.control.dashboard import Dashboard, summary_line
from accelctl.control.loop import Controller, TickResult
from accelctl.demo.load import LoadThread
from accelctl.demo.plan import Plan


def client_line(load: LoadThread, slo_s: float) -> str:
    outcomes = list(load.outcomes)
    ok = [o for o in outcomes if o.status == 200]
    within = sum(o.latency <= slo_s for o in ok)
    return (
        f"clients: {len(outcomes)} answered, {len(ok)} ok, {len(outcomes) - len(ok)} failed, "
        f"{within} within the {slo_s:g} s SLO"
    )


class HeadlessView:
    """Plain stdout lines: container logs and CI, not a terminal."""

    def __init__(
        self, controller: Controller, load: LoadThread, plan: Plan, emit: Callable[[str], None], slo_s: float
    ):
        self.load, self.plan, self.emit = load, plan, emit
        self.slo_s = slo_s
        self._next_report = plan.duration_s / 6
        controller.on_tick.append(lambda r: emit(summary_line(r, controller.policy)))

    def refresh(self, elapsed: float) -> None:
        if elapsed >= self._next_report:
            self._next_report += self.plan.duration_s / 6
            self.emit(f"t+{elapsed:.0f}s {client_line(self.load, self.slo_s)}")

    def close(self) -> None:
        return None


class LiveView:
    """The dashboard, redrawn by the main thread; the tick hook and the drawing share one lock."""

    def __init__(
        self,
        controller: Controller,
        events: list[tuple[float, str]],
        load: LoadThread,
        plan: Plan,
        console: Console,
        slo_s: float,
    ):
        from rich.live import Live

        self.events, self.load, self.plan = events, load, plan
        self.slo_s = slo_s
        self.dashboard = Dashboard(controller.units, controller.policy, slo_s, controller.settings.interval_s)
        self.elapsed = 0.0
        self._lock = threading.Lock()
        controller.on_tick.append(self._on_tick)
        self._live = Live(self, console=console, auto_refresh=False, transient=False)
        self._live.start()

    def _on_tick(self, result: TickResult) -> None:
        with self._lock:
            self.dashboard.update(result)

    def refresh(self, elapsed: float) -> None:
        with self._lock:
            self.elapsed = elapsed
            self._live.refresh()

    def close(self) -> None:
        with self._lock:
            self._live.stop()

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        p = self.plan
        head = Text()
        head.append("accelctl demo", style="bold")
        head.append(
            f"  t+{self.elapsed:.0f}s of {p.duration_s:.0f}s   fault at {p.fault_at:.0f}s, "
            f"restore from {p.restore_at:.0f}s, dwell {p.min_dwell_s:.0f}s\n"
        )
        head.append(client_line(self.load, self.slo_s) + "\n", style="dim")
        for _, text in self.events[-3:]:
            head.append(f"• {text}\n", style="yellow")
        yield Group(head, self.dashboard)
