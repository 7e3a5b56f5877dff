"""Smooth weighted round-robin and the router's flag parsing (pure)."""

from collections import Counter

import pytest

from accelctl.errors import InputError
from accelctl.router.balancer import SmoothWeighted
from accelctl.router.config import config_from_flags


def picks(weights, eligible, n):
    sw = SmoothWeighted()
    return [sw.pick(weights, eligible) for _ in range(n)]


def test_three_to_one_interleaves():
    # a=3, b=1, total 4. Scores (a, b) after adding weights -> winner -> after subtracting 4:
    # (3,1)->a->(-1,1); (2,2)->a (tie, by name)->(-2,2); (1,3)->b->(1,-1); (4,0)->a->(0,0): back to start.
    assert picks({"a": 3, "b": 1}, {"a", "b"}, 8) == ["a", "a", "b", "a"] * 2


def test_split_matches_weights_exactly_over_a_cycle():
    got = Counter(picks({"a": 5, "b": 3, "c": 2}, {"a", "b", "c"}, 100))
    assert got == {"a": 50, "b": 30, "c": 20}


def test_ineligible_and_zero_weight_are_skipped():
    assert set(picks({"a": 1, "b": 5, "c": 0}, {"a", "c"}, 10)) == {"a"}
    assert SmoothWeighted().pick({"a": 0, "b": 0}, {"a", "b"}) is None
    assert SmoothWeighted().pick({"a": 1}, set()) is None


def test_reset_restarts_the_cycle():
    sw = SmoothWeighted()
    assert sw.pick({"a": 1, "b": 1}, {"a", "b"}) == "a"  # without reset, b would be next
    sw.reset()
    assert sw.pick({"a": 1, "b": 1}, {"a", "b"}) == "a"


def test_flags_build_a_config():
    cfg = config_from_flags(
        ["cheap=http://127.0.0.1:8001/", "fast=http://127.0.0.1:8002"],
        ["cheap=80"],
        ["fast=gpu"],
        max_attempts=3,
    )
    assert [(b.name, b.url, b.weight, b.pool) for b in cfg.backends] == [
        ("cheap", "http://127.0.0.1:8001", 80, "cheap"),
        ("fast", "http://127.0.0.1:8002", 1, "gpu"),
    ]
    assert cfg.max_attempts == 3


@pytest.mark.parametrize(
    "backends, weights, pools, fragment",
    [
        ([], [], [], "at least one --backend"),
        (["cheap"], [], [], "expected NAME=VALUE"),
        (["a=http://x", "a=http://y"], [], [], "given twice"),
        (["a=http://x"], ["b=3"], [], "--weights names unknown backend(s) b"),
        (["a=http://x"], ["a=-1"], [], "non-negative integer"),
        (["a=http://x"], ["a=half"], [], "non-negative integer"),
        (["a=http://x"], [], ["z=p"], "--pool names unknown backend(s) z"),
        (["a=127.0.0.1:8001"], [], [], "not an http(s) URL"),
    ],
)
def test_bad_flags_name_the_flag(backends, weights, pools, fragment):
    with pytest.raises(InputError) as err:
        config_from_flags(backends, weights, pools)
    assert fragment in err.value.message
