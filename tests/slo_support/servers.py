"""Moved to ``support.slo_servers``."""

from support.slo_servers import NginxServer, PrometheusServer, free_port

__all__ = ["NginxServer", "PrometheusServer", "free_port"]
