"""The deploy stage.

- ``targets``: where services run (docker, compose, kubernetes, host) behind the ``Target`` base,
  found by kind (``targets.base.get_target``);
- ``strategies``: recreate, rolling, blue-green, canary behind the ``Strategy`` protocol, each with
  its undo (``strategies.deploy``, ``strategies.rollback``);
- ``routers``: nginx and none behind the ``TrafficRouter`` protocol;
- ``record``: the one ``DeploymentRecord`` a journal keeps;
- ``prober``: steady requests through the router while something changes;
- ``observe``: what the deploy steps call (services in order under the prober, switch, restore);
- ``logs``, ``resources``: a service's logs and resource usage, read through its target.
"""

from releasegate.checks.deploy.observe import DeploySession, deploy_order, deploy_services
from releasegate.checks.deploy.prober import Prober, ProbeResult, probing
from releasegate.checks.deploy.record import DeploymentRecord
from releasegate.checks.deploy.routers import TrafficRouter, make_router
from releasegate.checks.deploy.strategies import STRATEGIES, deploy, get_strategy, rollback
from releasegate.checks.deploy.targets import Target, get_target

__all__ = [
    "STRATEGIES",
    "DeploySession",
    "DeploymentRecord",
    "ProbeResult",
    "Prober",
    "Target",
    "TrafficRouter",
    "deploy",
    "deploy_order",
    "deploy_services",
    "get_strategy",
    "get_target",
    "make_router",
    "probing",
    "rollback",
]
