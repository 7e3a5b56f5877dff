"""bench: turn builds and running units into profiles (latency, breaking point, cost, quality)."""
