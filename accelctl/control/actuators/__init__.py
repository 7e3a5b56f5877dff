"""Actuators: the only code that writes routing weights."""
from accelctl.control.actuators import router  # noqa: E402,F401  (registers "router")
