"""Actuators: the only code that writes routing weights."""
