"""Real servers for the SLO and load tests: a fake service with metrics, Prometheus, nginx."""
