"""The controller's exporter, read the way Prometheus reads it (text format), on an injected clock."""

from __future__ import annotations

from paper_fleet import NAMES, paper_units
from prometheus_client.parser import text_string_to_metric_families

from accelctl.control.exporter import Exporter
from accelctl.control.loop import TickResult
from accelctl.control.types import MetricsSnapshot, UnitMetrics

T0 = 1_742_937_600.0


def source_ages(exporter: Exporter) -> dict[str, float]:
    text = exporter.metrics_text().decode()
    (family,) = [
        f for f in text_string_to_metric_families(text) if f.name == "accelctl_controller_source_age_seconds"
    ]
    return {s.labels["unit"]: s.value for s in family.samples}


def test_source_age_keeps_growing_while_the_source_is_down_or_drops_a_unit():
    now = [T0]
    exporter = Exporter(paper_units(), 15.0, clock=lambda: now[0])
    # Before any tick every unit ages from the exporter's start.
    now[0] = T0 + 30
    assert source_ages(exporter) == dict.fromkeys(NAMES, 30.0)

    # A tick at T0+30 reads every unit; inf2's newest data is 5 s old (as_of = T0+25), the rest live.
    units = {n: UnitMetrics(as_of=T0 + 25 if n == "inf2-neuron" else None) for n in NAMES}
    exporter.observe(TickResult(T0 + 30, {}, {}, snapshot=MetricsSnapshot(T0 + 30, units)))
    assert source_ages(exporter) == {n: 5.0 if n == "inf2-neuron" else 0.0 for n in NAMES}

    # The source fails at T0+45 (no snapshot): no tick sets anything, and the ages still grow by 15 s.
    now[0] = T0 + 45
    exporter.observe(TickResult(T0 + 45, {}, {}, error="source down"))
    assert source_ages(exporter) == {n: 20.0 if n == "inf2-neuron" else 15.0 for n in NAMES}

    # At T0+60 the source answers again but without trn1: trn1 ages on (60 - 30 = 30 s), the rest reset.
    now[0] = T0 + 60
    units = {n: UnitMetrics() for n in NAMES if n != "trn1-neuron"}
    exporter.observe(TickResult(T0 + 60, {}, {}, snapshot=MetricsSnapshot(T0 + 60, units)))
    ages = source_ages(exporter)
    assert ages["trn1-neuron"] == 30.0 and all(ages[n] == 0.0 for n in NAMES if n != "trn1-neuron")

    # Scraped 100 s later with no tick in between (a stuck loop): 100 s more on every unit.
    now[0] = T0 + 160
    assert source_ages(exporter)["inf2-neuron"] == 100.0 and source_ages(exporter)["trn1-neuron"] == 130.0
