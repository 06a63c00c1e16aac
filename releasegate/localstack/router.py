"""The stack's router: the library's nginx ``Router`` in ``<root>/nginx``, listening on ``router_listen``.

The deploy stage drives the same nginx through the runbook's ``deploy.router`` (weights, colours);
the stack only starts it, stops it, and takes every backend away before a release starts over.
Its status is the router's own health check, so ``local-stack status`` and a release's switch
check agree on whether the router works.
"""

from __future__ import annotations

from releasegate.checks.deploy.routers.nginx import PLACEHOLDER, Router
from releasegate.localstack.component import ComponentStatus
from releasegate.localstack.config import StackConfig


def router(config: StackConfig) -> Router:
    return Router(root=config.nginx_dir, listen=config.router_listen)


def ensure(config: StackConfig) -> Router:
    """The router running; a half-dead one (master gone, workers left) is stopped and started again."""
    started = router(config)
    if not started.running():
        started.stop()  # the workers a killed master left behind, if any
    started.start()
    return started


def stop(config: StackConfig) -> None:
    router(config).stop()


def clear(config: StackConfig) -> None:
    """No backend: the router answers from its placeholder until the next deployment sets weights."""
    ensure(config).remove_managed_routes()


def status(config: StackConfig) -> ComponentStatus:
    nginx = router(config)
    health = nginx.health()
    if not health.passed:
        return ComponentStatus("router (nginx)", False, f"{nginx.url}: {health.observed}")
    weights = {a: w for a, w in nginx.weights().items() if a != PLACEHOLDER}
    return ComponentStatus("router (nginx)", True,
                           f"{nginx.url}, {health.observed}, weights {weights or '(no backend yet)'}")
