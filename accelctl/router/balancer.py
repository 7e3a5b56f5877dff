"""Smooth weighted round-robin: the order nginx uses, so a 3:1 split is a,a,b,a rather than a,a,a,b.

Pure: no clock, no randomness. Each pick adds every eligible backend's weight to its running score,
takes the highest score (ties by name) and subtracts the total from the winner.
"""

from __future__ import annotations


class SmoothWeighted:
    def __init__(self) -> None:
        self._current: dict[str, int] = {}

    def pick(self, weights: dict[str, int], eligible: set[str] | frozenset[str]) -> str | None:
        """The next backend among `eligible` with weight > 0; None if there is none."""
        live = {n: w for n, w in weights.items() if n in eligible and w > 0}
        if not live:
            return None
        total = 0
        best: str | None = None
        for name in sorted(live):
            score = self._current.get(name, 0) + live[name]
            self._current[name] = score
            total += live[name]
            if best is None or score > self._current[best]:
                best = name
        assert best is not None
        self._current[best] -= total
        return best

    def reset(self) -> None:
        """Forget running scores; called when weights change so the new split starts clean."""
        self._current.clear()
