"""The stack's router: the library's nginx ``Router`` in ``<root>/nginx``, listening on ``router_listen``.

The deploy stage drives the same nginx through the runbook's ``deploy.router`` (weights, colours);
the stack only starts it, stops it, and takes every backend away before a release starts over.
"""

from __future__ import annotations

from releasegate.checks.deploy.routers.nginx import PLACEHOLDER, Router
from releasegate.localstack.component import ComponentStatus
from releasegate.localstack.config import StackConfig


def router(config: StackConfig) -> Router:
    return Router(root=config.nginx_dir, listen=config.router_listen)


def ensure(config: StackConfig) -> Router:
    started = router(config)
    started.start()
    return started


def stop(config: StackConfig) -> None:
    router(config).stop()


def clear(config: StackConfig) -> None:
    """No backend: the router answers from its placeholder until the next deployment sets weights."""
    router(config).remove_managed_routes()


def status(config: StackConfig) -> ComponentStatus:
    nginx = router(config)
    running = nginx.running()
    weights = {a: w for a, w in nginx.weights().items() if a != PLACEHOLDER} if running else {}
    return ComponentStatus("router (nginx)", running, f"{nginx.url}, weights {weights or '(no backend yet)'}")
