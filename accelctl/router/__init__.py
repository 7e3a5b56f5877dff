"""The local weighted router: the stand-in for the ALB / Gateway when the fleet runs on one machine.

An aiohttp reverse proxy that splits requests across backends by integer weights, health-checks them,
retries refused or failed requests on another backend, exports per-backend Prometheus metrics and
serves an admin API for weights and capacity-pool flags.
"""
