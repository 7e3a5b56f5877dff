"""Metric sources: read-only views of the fleet that produce a MetricsSnapshot."""
