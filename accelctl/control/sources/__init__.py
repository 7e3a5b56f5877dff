"""Metric sources: read-only views of the fleet that produce a MetricsSnapshot.

Importing this package registers every source in SOURCES; each imports its client library (httpx,
boto3, kubernetes) only when constructed.
"""

from accelctl.control.sources import (  # noqa: F401  (registration)
    cloudwatch,
    kubernetes,
    local,  # noqa: F401  (registration)
    prometheus,
    static,
)
from accelctl.control.sources.base import SOURCES, Source, UnitBinding

__all__ = ["SOURCES", "Source", "UnitBinding"]
