"""deploy: Kubernetes manifests for a heterogeneous fleet, rendered from a FleetSpec and its profiles."""
