"""SLO analysis: metrics, the analysis engine (measure, assess, decide), the Prometheus client, monitoring checks."""
