"""Running the service: Prometheus metrics, scheduler leases, demo and sample data."""
