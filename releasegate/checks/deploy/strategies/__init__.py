"""Deployment strategies: recreate, rolling, blue-green and canary, each with its undo.

    deployment = strategies.deploy(target, "demo-api", "1.1.0", "blue-green", router=router)
    deployment.result            # CheckResult: did the release reach its end state, healthy?
    deployment.record            # DeploymentRecord: what was done and how to undo it (as_dict() is JSON)
    strategies.rollback(deployment.record)   # or rollback_blue_green(record_dict), from a journal file

One module per strategy behind the ``Strategy`` protocol (``strategies.base``), found by name
through ``REGISTRY`` (dotted paths, imported on first use). Container targets (docker, compose)
give each service two colours of slots; the router (``checks.deploy.routers``) sends traffic to
the addresses of the slots. On Kubernetes, recreate and rolling are the Deployment's own
strategy (apply + rollout status, undo with ``kubectl rollout undo`` semantics); blue-green and
canary are refused with a clear error.

Every record names its undo: ``record.undo`` is ``releasegate.checks.deploy.strategies:rollback_<strategy>``,
a function ``(record) -> CheckResult`` that the rollback plugin imports from a journal entry.
``deploy(..., on_progress=fn)`` calls ``fn(record)`` before each change, so the caller can
journal the record write-ahead; on any error the failed Deployment keeps the record as far as it
got. Undo functions read the live state before they act (what the router sends traffic to, what
runs in each colour), so running one twice, or on a record of a deployment that died halfway, is
harmless: a blue-green or canary undo never stops the colour that serves unless the previous
one serves in its place, and fails, saying so, when nothing else can serve.
"""

from __future__ import annotations

import importlib
from typing import Any

from releasegate.checks import secrets
from releasegate.checks.deploy.record import DeploymentRecord
from releasegate.checks.deploy.strategies.base import (
    DEFAULT_CANARY_WEIGHTS,
    UNDO,
    Deployment,
    DeployOptions,
    Gate,
    Smoke,
    Strategy,
    finish,
    new_record,
)
from releasegate.checks.deploy.strategies.bluegreen import switch_traffic
from releasegate.checks.deploy.targets.base import Target
from releasegate.checks.errors import ConfigError, ReleaseGateError, TargetUnreachable
from releasegate.checks.result import CheckResult

__all__ = [
    "DEFAULT_CANARY_WEIGHTS", "REGISTRY", "STRATEGIES", "DeployOptions", "Deployment", "Gate", "Smoke", "Strategy",
    "deploy", "get_strategy", "new_record", "rollback", "rollback_blue_green", "rollback_canary", "rollback_recreate",
    "rollback_rolling", "switch_traffic",
]

REGISTRY: dict[str, str] = {
    "recreate": "releasegate.checks.deploy.strategies.recreate:Recreate",
    "rolling": "releasegate.checks.deploy.strategies.rolling:Rolling",
    "blue-green": "releasegate.checks.deploy.strategies.bluegreen:BlueGreen",
    "canary": "releasegate.checks.deploy.strategies.canary:Canary",
}
STRATEGIES = tuple(REGISTRY)


def get_strategy(name: str) -> Strategy:
    """The strategy a runbook names, imported on first use."""
    path = REGISTRY.get(name)
    if path is None:
        raise ConfigError(f"unknown deploy strategy {name!r}; use one of: {', '.join(STRATEGIES)}")
    module_name, _, class_name = path.partition(":")
    strategy: Strategy = getattr(importlib.import_module(module_name), class_name)()
    return strategy


def deploy(target: Target, service: str, version: str, strategy: str, **options: Any) -> Deployment:
    """Run one strategy; every error of the target becomes a failed Deployment, never a traceback.

    ``options`` are those of ``DeployOptions``: router, router_settings, gate, smoke, switch, weights,
    on_progress (called with the record before each change), record (the record to fill). A failed
    Deployment keeps the record as far as the strategy got: it is what the undo needs.
    """
    chosen = get_strategy(strategy)
    settings = DeployOptions(**options)
    try:
        settings.record = settings.record or new_record(target, service, version, strategy, settings.router_settings)
        return chosen.deploy(target, service, version, settings)
    except TargetUnreachable as exc:  # not a verdict on the release: nobody could look
        result = CheckResult.unknown(f"{strategy} {service} {version}", secrets.redact(str(exc)), "deployed")
    except ReleaseGateError as exc:
        result = CheckResult.fail(f"{strategy} {service} {version}", secrets.redact(str(exc)), "deployed")
    record = settings.record or DeploymentRecord(strategy=strategy, undo=UNDO.format(name=strategy.replace("-", "_")),
                                                 service={"name": service}, version=version)
    record.step("error", error=result.observed)
    return finish(record, "failed", result)


def rollback(record: DeploymentRecord | dict[str, Any]) -> CheckResult:
    """Undo one deployment record with the undo of its strategy."""
    found = DeploymentRecord.from_dict(record)
    if found.strategy not in REGISTRY:
        raise ConfigError(f"deployment record has unknown strategy {found.strategy!r}; expected one of {STRATEGIES}")
    return get_strategy(found.strategy).rollback(found)


# The undo actions journals name (``record.undo``): keep these names and their first doc lines (--dry-run).

def rollback_recreate(record: DeploymentRecord | dict[str, Any]) -> CheckResult:
    """Put the previous version back in the serving slots (recreate), unless it already serves."""
    return get_strategy("recreate").rollback(DeploymentRecord.from_dict(record))


def rollback_rolling(record: DeploymentRecord | dict[str, Any]) -> CheckResult:
    """Roll the previous version back into the slots one at a time, drained and health-gated."""
    return get_strategy("rolling").rollback(DeploymentRecord.from_dict(record))


def rollback_blue_green(record: DeploymentRecord | dict[str, Any]) -> CheckResult:
    """Switch the router back to the previous colour (started again with the previous version if gone)."""
    return get_strategy("blue-green").rollback(DeploymentRecord.from_dict(record))


def rollback_canary(record: DeploymentRecord | dict[str, Any]) -> CheckResult:
    """Send all traffic back to the stable colour and stop the canary instances."""
    return get_strategy("canary").rollback(DeploymentRecord.from_dict(record))
