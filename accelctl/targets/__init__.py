"""Compile targets, one module per family; look them up by name with get()."""

from accelctl.targets.base import BuildSpec, Target, get, names, targets

__all__ = ["BuildSpec", "Target", "get", "names", "targets"]
