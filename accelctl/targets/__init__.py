"""Compile targets, one module per family; look them up by name with get()."""

from accelctl.targets.base import Target, get, names, targets

__all__ = ["Target", "get", "names", "targets"]
