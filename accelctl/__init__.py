"""accelctl: serve Stable Diffusion on the cheapest heterogeneous fleet that meets its SLO."""

__version__ = "0.1.0"
