"""Metric sources: read-only views of the fleet that produce a MetricsSnapshot."""
from accelctl.control.sources import local  # noqa: E402,F401  (registers "local")
