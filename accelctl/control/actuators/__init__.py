"""Actuators: the only code that writes routing weights.

Importing this package registers every actuator in ACTUATORS; each imports its client library
(boto3, kubernetes) only when constructed.
"""

from accelctl.control.actuators import (  # noqa: F401  (registration)
    alb_ingress,
    elbv2,
    file,
    httproute,
    router,  # noqa: F401  (registration)
)
from accelctl.control.actuators.base import ACTUATORS, Actuator

__all__ = ["ACTUATORS", "Actuator"]
