"""The demo load's arrival schedule (pure: seeded RNG, no clock)."""

import numpy as np
import pytest

from accelctl.demo.load import arrival_times
from accelctl.sim.load import shape_rate
from accelctl.sim.scenario import Wave


def test_constant_rate_gives_its_count():
    # Rate 5/s over 200 s: 1000 expected; a Poisson count has sd sqrt(1000) ~ 32, so 5 sd is 160.
    t = arrival_times(lambda x: np.full_like(x, 5.0), 5.0, 200.0, np.random.default_rng(1))
    assert abs(len(t) - 1000) < 160
    assert np.all(np.diff(t) >= 0) and t[0] >= 0 and t[-1] < 200


def test_cosine_wave_thins_to_its_shape():
    wave = Wave(kind="wave", min_rps=1.0, max_rps=9.0, period=100.0, peak_at=50.0)
    t = arrival_times(lambda x: shape_rate(wave, x, None, "load"), 9.0, 100.0, np.random.default_rng(2))
    # Mean rate (1+9)/2 = 5 over 100 s: 500 expected. The middle half (25..75 s, around the peak)
    # holds (5 + 4*2/pi) * 50 = 377 of them; the outer half 500 - 377 = 123.
    middle = np.sum((t >= 25) & (t < 75))
    assert abs(len(t) - 500) < 5 * np.sqrt(500)
    assert middle == pytest.approx(377, abs=5 * np.sqrt(377))


def test_same_seed_same_schedule_and_nothing_without_rate():
    a = arrival_times(lambda x: np.full_like(x, 2.0), 2.0, 10.0, np.random.default_rng(7))
    b = arrival_times(lambda x: np.full_like(x, 2.0), 2.0, 10.0, np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert len(arrival_times(lambda x: x, 0.0, 10.0, np.random.default_rng(0))) == 0
