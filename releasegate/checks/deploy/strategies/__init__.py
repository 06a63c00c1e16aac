"""Deployment strategies: recreate, rolling, blue-green and canary, each with its undo.

    deployment = strategies.deploy(target, "demo-api", "1.1.0", "blue-green", router=router)
    deployment.result            # CheckResult: did the release reach its end state, healthy?
    deployment.record            # JSON-serializable: what was done and how to undo it
    strategies.rollback(deployment.record)   # or rollback_blue_green(record), from a journal file

Container targets (docker, compose) give each service two colours of slots (see
``checks.targets.docker``). The router (``checks.router.Router``: nginx with weights) sends traffic
to the addresses of the slots:

* recreate: stop the serving instances, start the new version in the same slots, gate on health.
* rolling: one serving instance at a time: drain it in the router (weight 0), replace it, gate on
  its health, put it back; a failed gate stops the rollout (the rollback restores the previous
  version slot by slot, the same way).
* blue-green: start the standby colour with the new version, gate on health and smoke checks,
  switch the router to it, keep the old colour running for an instant switch-back.
* canary: one instance of the new version in the standby colour, weights from the runbook
  (default 5, 25, 50, 100) with an analysis gate after every step; a failed gate sets the
  canary weight to 0 and ends in rollback; after 100 the standby colour is complete and serving.

On Kubernetes, recreate and rolling are the Deployment's own strategy (apply + rollout status,
undo with ``kubectl rollout undo`` semantics); blue-green and canary are refused with a clear error.

Every record names its undo: ``record["undo"]`` is ``releasegate.checks.deploy.strategies:rollback_<strategy>``,
a function ``(record) -> CheckResult`` that the rollback plugin can import from a journal entry.
Undo functions look at what is serving before they act, so running one twice is harmless.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from releasegate.checks import secrets
from releasegate.checks.deploy.targets.base import Target, get_target
from releasegate.checks.deploy.targets.docker import COLOURS, DockerTarget, Slot, http_json, inspect_local_image
from releasegate.checks.errors import ConfigError, ReleaseGateError, TargetError, TargetUnreachable
from releasegate.checks.result import CheckResult, combine
from releasegate.checks.runbook.model import Router as RouterSpec
from releasegate.checks.runbook.model import Runbook, Service
from releasegate.checks.runbook.model import Target as TargetSpec

STRATEGIES = ("recreate", "rolling", "blue-green", "canary")
DEFAULT_CANARY_WEIGHTS = (5, 25, 50, 100)

Gate = Callable[[int], CheckResult]
"""Canary analysis between steps: called with the canary weight just reached."""
Smoke = Callable[[str, list[str]], CheckResult]
"""Smoke checks of a standby colour: called with the version and the instance base URLs."""


class TrafficRouter(Protocol):
    """What a strategy needs from a router (``checks.router.Router`` is one)."""

    def set_weights(self, weights: Mapping[str, int], colors: Mapping[str, str] | None = None) -> dict[str, int]: ...

    def weights(self) -> dict[str, int]: ...


class NoRouter:
    """``deploy.router.kind: none``: nothing to switch; traffic reaches the slots some other way."""

    def __init__(self) -> None:
        self._weights: dict[str, int] = {}

    def set_weights(self, weights: Mapping[str, int], colors: Mapping[str, str] | None = None) -> dict[str, int]:
        self._weights = dict(weights)
        return self._weights

    def weights(self) -> dict[str, int]:
        return dict(self._weights)


@dataclass
class Deployment:
    """The outcome of one strategy run: a verdict and a record of what was done."""

    result: CheckResult
    record: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.result.passed


# --- routers ------------------------------------------------------------------------------------

def router_settings(spec: RouterSpec, service: Service, services: int = 1) -> dict[str, Any]:
    """Where the router of ``service`` keeps its config and listens (JSON-serializable)."""
    per_service = spec.options.get("services", {}).get(service.name, {})
    listen = per_service.get("listen") or (spec.options.get("listen") if services == 1 else None)
    if not listen:
        url = spec.url if spec.url and services == 1 else service.base_url
        parts = urlsplit(url)
        listen = f"{parts.hostname}:{parts.port or 80}"
    from releasegate.checks._support.paths import REPO_ROOT
    from releasegate.checks.deploy.routers.nginx import DEFAULT_ROOT

    root = per_service.get("root") or spec.options.get("root") or spec.options.get("config_dir")
    if root is None:
        root = DEFAULT_ROOT
    root = Path(str(root)) if Path(str(root)).is_absolute() else REPO_ROOT / str(root)
    if services > 1 and not per_service.get("root"):
        root = root / service.name  # one nginx per service, each with its own config folder
    return {"kind": spec.kind, "listen": str(listen), "root": str(root)}


def make_router(settings: Mapping[str, Any]) -> TrafficRouter:
    if settings.get("kind", "nginx") == "none":
        return NoRouter()
    from releasegate.checks.deploy.routers.nginx import Router

    return Router(root=Path(str(settings["root"])), listen=str(settings["listen"]))


# --- records ------------------------------------------------------------------------------------

def _new_record(target: Target, service: str, version: str, strategy: str,
                router: Mapping[str, Any] | None) -> dict[str, Any]:
    spec = target.service(service)
    return {
        "strategy": strategy,
        "undo": f"releasegate.checks.deploy.strategies:rollback_{strategy.replace('-', '_')}",
        "target": target.spec.model_dump(),
        # env values may be secrets and the journal redacts them: keep only the names
        "service": spec.model_dump(exclude={"env"}) | {"env_names": sorted(spec.env)},
        "router": dict(router or {"kind": "none"}),
        "version": version,
        "previous_version": None,
        "colour": None,
        "previous_colour": None,
        "image": target.image_ref(service, version),
        "image_digest": None,
        "previous_image": None,
        "previous_image_digest": None,
        "slots": [],
        "outcome": "started",
        "started_at": time.time(),
        "steps": [],
    }


def _step(record: dict[str, Any], what: str, **details: Any) -> None:
    record["steps"].append({"at_s": round(time.time() - record["started_at"], 3), "step": what, **details})


def _finish(record: dict[str, Any], outcome: str, result: CheckResult) -> Deployment:
    record["outcome"] = outcome
    record["duration_s"] = round(time.time() - record["started_at"], 3)
    result.elapsed_s = record["duration_s"]
    result.evidence.setdefault("record", {k: v for k, v in record.items() if k != "target"})
    return Deployment(result, record, record["steps"])


def _target_from_record(record: Mapping[str, Any]) -> Target:
    service = dict(record["service"])
    service.pop("env_names", None)
    return get_target(TargetSpec.model_validate(record["target"]), [Service.model_validate(service)])


# --- helpers on container targets ---------------------------------------------------------------

def _container_target(target: Target, strategy: str) -> DockerTarget:
    if not isinstance(target, DockerTarget):
        raise TargetError(
            f"the {strategy} strategy needs a container target (docker or compose); target {target.spec.name!r}"
            f" is {target.NAME}: use rolling or recreate there"
        )
    return target


def _weights_for(slots: list[Slot], weight: int = 100) -> dict[str, int]:
    return {s.address: weight for s in slots}


def _colors(target: DockerTarget, service: str) -> dict[str, str]:
    found = {colour: target.colour_slots(service, colour) for colour in COLOURS}
    return {colour: slots[0].address for colour, slots in found.items() if slots}


def _two_colours(target: DockerTarget, service: str, strategy: str) -> None:
    if not all(target.colour_slots(service, colour) for colour in COLOURS):
        raise TargetError(f"the {strategy} strategy needs a blue and a green slot for {service} on target"
                          f" {target.spec.name!r}; for compose, list two or more compose services in"
                          f" options.services.{service} (first half blue, second half green)")


def serving_colour(target: DockerTarget, service: str, router: TrafficRouter) -> str | None:
    """The colour the router sends traffic to; without router state, the colour that runs."""
    weights = router.weights()
    for colour in COLOURS:
        addresses = {s.address for s in target.colour_slots(service, colour)}
        if any(weights.get(a, 0) > 0 for a in addresses):
            return colour
    running = {i.slot.colour for i in target.instances(service) if i.status == "running"}
    if len(running) == 1:
        return running.pop()
    return COLOURS[0] if running else None


def _set_weights(router: TrafficRouter, target: DockerTarget, service: str, weights: dict[str, int],
                 record: dict[str, Any], what: str) -> float:
    """Apply weights; every address of the service is listed (0 = down); returns seconds taken."""
    full = {s.address: 0 for s in target.slots(service)}
    full.update(weights)
    started = time.monotonic()
    router.set_weights(full, colors=_colors(target, service))
    took = round(time.monotonic() - started, 3)
    _step(record, what, weights={a: w for a, w in full.items() if w}, seconds=took)
    return took


def _default_smoke(target: DockerTarget, service: str) -> Smoke:
    spec = target.service(service)

    def smoke(version: str, urls: list[str]) -> CheckResult:
        results = []
        for url in urls:
            body = http_json(url + (spec.version_endpoint or "/version"))
            seen = body.get(spec.version_field) if isinstance(body, dict) else None
            results.append(CheckResult.judge(f"{url} version", seen == version, seen, version))
        return combine(f"smoke {service} {version}", results)

    return smoke


def _start_colour(target: DockerTarget, service: str, slots: list[Slot], version: str,
                  record: dict[str, Any]) -> CheckResult:
    for slot in slots:
        target.start(service, slot, version)
        _step(record, "started", slot=slot.index, colour=slot.colour, version=version)
    results = [target.wait_healthy(service, slot, version) for slot in slots]
    verdict = combine(f"{service} {version} on {slots[0].colour if slots else '-'} healthy", results)
    _step(record, "health gate", outcome=verdict.outcome.value)
    return verdict


def _remember_previous(target: DockerTarget, service: str, slots: list[Slot], record: dict[str, Any]) -> None:
    current = [i for i in (target.instance(service, s) for s in slots) if i is not None and i.status == "running"]
    if current:
        record["previous_version"] = current[0].version
        record["previous_image"] = current[0].image
        record["previous_image_digest"] = current[0].image_id


def _record_image(target: Target, service: str, version: str, record: dict[str, Any]) -> CheckResult:
    found = target.image_exists(service, version)
    record["image_digest"] = found.evidence.get("digest")
    return found


# --- strategies ---------------------------------------------------------------------------------

def deploy_recreate(target: Target, service: str, version: str, *, router: TrafficRouter | None = None,
                    router_settings: Mapping[str, Any] | None = None, strategy_type: str = "Recreate",
                    **_: Any) -> Deployment:
    record = _new_record(target, service, version, "recreate", router_settings)
    if not isinstance(target, DockerTarget):
        from releasegate.checks.deploy.targets.kubernetes import KubernetesTarget

        if isinstance(target, KubernetesTarget):  # the Deployment's own strategy does the work
            done = target.deploy(service, version, strategy_type=strategy_type)
        else:
            done = target.deploy(service, version)
        record.update(previous_version=done.previous_version, previous_image=done.previous_image,
                      image_digest=done.image_digest, details=done.details)
        _step(record, "target deploy", outcome=done.outcome)
        result = target.health(service)
        return _finish(record, "deployed" if done.outcome == "done" and result.passed else "failed", result)
    router = router or NoRouter()
    image = _record_image(target, service, version, record)
    if not image.passed:
        return _finish(record, "failed", image)
    slots = _serving_slots(target, service, router, record)
    for slot in slots:
        target.stop(service, slot)
        _step(record, "stopped", slot=slot.index)
    verdict = _start_colour(target, service, slots, version, record)
    if verdict.passed:
        _set_weights(router, target, service, _weights_for(slots), record, "route to new instances")
    return _finish(record, "deployed" if verdict.passed else "failed", verdict)


def _serving_slots(target: DockerTarget, service: str, router: TrafficRouter, record: dict[str, Any]) -> list[Slot]:
    """The slots of the colour that serves now (replaced in place by recreate and rolling), recorded."""
    colour = serving_colour(target, service, router) or COLOURS[0]
    slots = target.colour_slots(service, colour)
    _remember_previous(target, service, slots, record)
    record.update(colour=colour, previous_colour=colour, slots=[s.index for s in slots])
    return slots


def deploy_rolling(target: Target, service: str, version: str, *, router: TrafficRouter | None = None,
                   router_settings: Mapping[str, Any] | None = None, **_: Any) -> Deployment:
    if not isinstance(target, DockerTarget):
        deployment = deploy_recreate(target, service, version, router=router, router_settings=router_settings,
                                     strategy_type="RollingUpdate")
        deployment.record.update(strategy="rolling", undo="releasegate.checks.deploy.strategies:rollback_rolling")
        return deployment
    record = _new_record(target, service, version, "rolling", router_settings)
    router = router or NoRouter()
    image = _record_image(target, service, version, record)
    if not image.passed:
        return _finish(record, "failed", image)
    slots = _serving_slots(target, service, router, record)
    verdict = _roll(target, service, slots, version, router, record)
    return _finish(record, "deployed" if verdict.passed else "failed", verdict)


def _roll(target: DockerTarget, service: str, slots: list[Slot], version: str, router: TrafficRouter,
          record: dict[str, Any]) -> CheckResult:
    """Replace the instances one at a time, each drained first and health-gated before the next."""
    results: list[CheckResult] = []
    live = {s.address for s in slots}
    for slot in slots:
        current = target.instance(service, slot)
        at_version = current is not None and current.version == version and current.status == "running"
        if at_version and target.instance_health(service, slot, version).passed:
            _step(record, "already at version", slot=slot.index)
            continue
        others = live - {slot.address}
        if others:
            _set_weights(router, target, service, dict.fromkeys(others, 100), record, f"drain slot {slot.index}")
        target.start(service, slot, version)
        _step(record, "replaced", slot=slot.index, version=version)
        health = target.wait_healthy(service, slot, version)
        results.append(health)
        _step(record, "health gate", slot=slot.index, outcome=health.outcome.value)
        if not health.passed:
            return combine(f"rolling {service} to {version}", results)
        _set_weights(router, target, service, dict.fromkeys(live, 100), record, f"restore slot {slot.index}")
    return combine(f"rolling {service} to {version}", results) if results else CheckResult.ok(
        f"rolling {service} to {version}", "every instance already at the version", version)


def deploy_blue_green(target: Target, service: str, version: str, *, router: TrafficRouter | None = None,
                      router_settings: Mapping[str, Any] | None = None, smoke: Smoke | None = None,
                      switch: bool = True, **_: Any) -> Deployment:
    """Start the standby colour, gate it; switch the router to it unless ``switch`` is False ("staged")."""
    container = _container_target(target, "blue-green")
    _two_colours(container, service, "blue-green")
    record = _new_record(target, service, version, "blue-green", router_settings)
    router = router or NoRouter()
    image = _record_image(target, service, version, record)
    if not image.passed:
        return _finish(record, "failed", image)
    active = serving_colour(container, service, router)
    standby = COLOURS[1] if active == COLOURS[0] else COLOURS[0]
    standby_slots = container.colour_slots(service, standby)
    if active is not None:
        _remember_previous(container, service, container.colour_slots(service, active), record)
    record.update(colour=standby, previous_colour=active, slots=[s.index for s in standby_slots])
    verdict = _start_colour(container, service, standby_slots, version, record)
    if verdict.passed:
        check = (smoke or _default_smoke(container, service))(version, [f"http://{s.address}" for s in standby_slots])
        _step(record, "smoke gate", outcome=check.outcome.value)
        verdict = combine(f"blue-green {service} {version} on {standby}", [verdict, check])
    if not verdict.passed:
        for slot in standby_slots:
            target_stop(container, service, slot, record)
        return _finish(record, "failed", verdict)
    if not switch:
        return _finish(record, "staged", verdict)
    record["switch_s"] = _set_weights(router, container, service, _weights_for(standby_slots), record,
                                      f"switch to {standby}")
    return _finish(record, "deployed", verdict)


def switch_traffic(record: dict[str, Any], router: TrafficRouter | None = None) -> CheckResult:
    """Send all traffic to the colour a staged blue-green deployment started (idempotent)."""
    target = _container_target(_target_from_record(record), "blue-green")
    service, colour, version = record["service"]["name"], record.get("colour"), record.get("version")
    name = f"switch {service} to {colour} ({version})"
    router = router or make_router(record.get("router") or {"kind": "none"})
    try:
        if not colour:
            return CheckResult.fail(name, "the deployment record names no colour", "a staged blue-green record")
        slots = target.colour_slots(service, colour)
        health = combine(f"{service} {colour} healthy", [target.instance_health(service, s, version) for s in slots])
        if not health.passed:
            return CheckResult.fail(name, f"{colour} is not healthy: {health.detail}", f"{version} serving",
                                    evidence=health.evidence)
        took = _set_weights(router, target, service, _weights_for(slots), record, f"switch to {colour}")
        record.update(switch_s=took, outcome="deployed")
        return CheckResult.ok(name, f"{version} serving from {colour} (switch {took:.2f}s)", f"{version} serving",
                              evidence={"switch_s": took})
    except ReleaseGateError as exc:
        return CheckResult.fail(name, secrets.redact(str(exc)), f"{version} serving")
    finally:
        target.close()


def target_stop(target: DockerTarget, service: str, slot: Slot, record: dict[str, Any]) -> None:
    if target.stop(service, slot):
        _step(record, "stopped", slot=slot.index, colour=slot.colour)


def deploy_canary(target: Target, service: str, version: str, *, router: TrafficRouter | None = None,
                  router_settings: Mapping[str, Any] | None = None, gate: Gate | None = None,
                  weights: list[int] | tuple[int, ...] = DEFAULT_CANARY_WEIGHTS, **_: Any) -> Deployment:
    container = _container_target(target, "canary")
    _two_colours(container, service, "canary")
    record = _new_record(target, service, version, "canary", router_settings)
    router = router or NoRouter()
    image = _record_image(target, service, version, record)
    if not image.passed:
        return _finish(record, "failed", image)
    stable = serving_colour(container, service, router)
    if stable is None:
        raise TargetError(f"canary of {service}: nothing serves yet, so there is no stable version to compare"
                          " with; deploy the first version with recreate or blue-green")
    canary = COLOURS[1] if stable == COLOURS[0] else COLOURS[0]
    stable_slots = container.colour_slots(service, stable)
    canary_slots = container.colour_slots(service, canary)
    _remember_previous(container, service, stable_slots, record)
    record.update(colour=canary, previous_colour=stable, slots=[s.index for s in canary_slots], weights=list(weights),
                  weight=0)
    first = canary_slots[:1]
    verdict = _start_colour(container, service, first, version, record)
    gates: list[CheckResult] = [verdict]
    if verdict.passed:
        for weight in weights:
            if weight >= 100:
                rest = _start_colour(container, service, canary_slots[1:], version, record) if canary_slots[1:] \
                    else None
                if rest is not None and not rest.passed:
                    gates.append(rest)
                    break
                _set_weights(router, container, service, _weights_for(canary_slots), record, "canary 100%")
            else:
                split = _weights_for(stable_slots, 100 - weight) | _weights_for(first, weight * len(stable_slots))
                _set_weights(router, container, service, split, record, f"canary {weight}%")
            record["weight"] = weight
            check = gate(weight) if gate is not None else CheckResult.ok(f"canary gate at {weight}%", "no gate",
                                                                         "no gate")
            _step(record, "analysis gate", weight=weight, outcome=check.outcome.value, summary=check.summary())
            gates.append(check)
            if not check.passed:
                break
    result = combine(f"canary {service} {version} through {', '.join(map(str, weights))}%", gates)
    if result.passed:
        return _finish(record, "deployed", result)
    _abort_canary(container, service, record, router)
    return _finish(record, "aborted", result)


def _abort_canary(target: DockerTarget, service: str, record: dict[str, Any], router: TrafficRouter) -> None:
    stable = record["previous_colour"]
    _set_weights(router, target, service, _weights_for(target.colour_slots(service, stable)), record,
                 "canary weight 0")
    record["weight"] = 0
    for slot in target.colour_slots(service, record["colour"]):
        target_stop(target, service, slot, record)


DEPLOYERS: dict[str, Callable[..., Deployment]] = {
    "recreate": deploy_recreate,
    "rolling": deploy_rolling,
    "blue-green": deploy_blue_green,
    "canary": deploy_canary,
}


def deploy(target: Target, service: str, version: str, strategy: str, **options: Any) -> Deployment:
    """Run one strategy; every error of the target becomes a failed Deployment, never a traceback."""
    if strategy not in DEPLOYERS:
        raise ConfigError(f"unknown deploy strategy {strategy!r}; use one of: {', '.join(STRATEGIES)}")
    try:
        return DEPLOYERS[strategy](target, service, version, **options)
    except TargetUnreachable as exc:  # not a verdict on the release: nobody could look
        result = CheckResult.unknown(f"{strategy} {service} {version}", secrets.redact(str(exc)), "deployed")
        record = _new_record(target, service, version, strategy, options.get("router_settings"))
        return _finish(record, "failed", result)
    except ReleaseGateError as exc:
        result = CheckResult.fail(f"{strategy} {service} {version}", secrets.redact(str(exc)), "deployed")
        record = _new_record(target, service, version, strategy, options.get("router_settings"))
        return _finish(record, "failed", result)


def deploy_order(runbook: Runbook, names: list[str] | None = None) -> list[str]:
    """Services in deploy order: ``deploy.order`` first, then dependencies before dependants."""
    wanted = names or [s.name for s in runbook.services]
    explicit = [n for n in runbook.deploy.order if n in wanted]
    rest = [n for n in wanted if n not in explicit]
    ordered: list[str] = list(explicit)
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise ConfigError(f"services[].depends_on has a cycle through {name!r}")
        visiting.add(name)
        for dependency in runbook.service(name).depends_on:
            if dependency in wanted:
                visit(dependency)
        visiting.discard(name)
        ordered.append(name)

    for name in rest:
        visit(name)
    return ordered


def deploy_services(runbook: Runbook, target: Target, version: str, strategy: str | None = None,
                    services: list[str] | None = None, **options: Any) -> list[Deployment]:
    """Deploy services one after another in ``deploy_order``; each must be healthy before the next."""
    done: list[Deployment] = []
    for name in deploy_order(runbook, services):
        settings = router_settings(runbook.deploy.router, runbook.service(name), len(runbook.services))
        deployment = deploy(target, name, version, strategy or runbook.deploy.strategy,
                            router=options.get("router") or make_router(settings), router_settings=settings,
                            weights=runbook.deploy.canary_weights,
                            **{k: v for k, v in options.items() if k not in ("router", "weights")})
        if deployment.passed:
            health = target.health(name)
            deployment.result = combine(deployment.result.name, [deployment.result, health])
        done.append(deployment)
        if not deployment.passed:
            break
    return done


# --- undo ---------------------------------------------------------------------------------------

def rollback_recreate(record: dict[str, Any]) -> CheckResult:
    """Put the previous version back in the serving slots (recreate), unless it already serves."""
    target = _target_from_record(record)
    service = record["service"]["name"]
    name = f"rollback {service} to {record.get('previous_version')}"
    if not record.get("previous_version"):
        return CheckResult.ok(name, "nothing served before this deployment", "previous version serving")
    try:
        done = target.rollback(service, record)
    except ReleaseGateError as exc:
        return CheckResult.fail(name, secrets.redact(str(exc)), "previous version serving")
    finally:
        target.close()
    return CheckResult.judge(name, done.outcome == "done", done.details.get("skipped") or done.outcome,
                             "previous version serving", evidence=done.as_dict())


def rollback_rolling(record: dict[str, Any]) -> CheckResult:
    """Roll the previous version back into the slots one at a time, drained and health-gated."""
    target = _target_from_record(record)
    if not isinstance(target, DockerTarget):
        return rollback_recreate(record)
    service = record["service"]["name"]
    previous = record.get("previous_version")
    name = f"rollback {service} to {previous}"
    if not previous:
        return CheckResult.ok(name, "nothing served before this deployment", "previous version serving")
    router = make_router(record.get("router") or {"kind": "none"})
    slots = [s for s in target.slots(service) if s.index in set(record.get("slots", []))]
    undo: dict[str, Any] = {"steps": [], "started_at": time.time()}
    try:
        result = _roll(target, service, slots, previous, router, undo)
    except ReleaseGateError as exc:
        result = CheckResult.fail(name, secrets.redact(str(exc)), "previous version serving")
    finally:
        target.close()
    result.name = name
    result.evidence["steps"] = undo["steps"]
    return result


def rollback_blue_green(record: dict[str, Any]) -> CheckResult:
    """Switch the router back to the previous colour (started again with the previous version if gone)."""
    target = _target_from_record(record)
    service = record["service"]["name"]
    previous, colour = record.get("previous_version"), record.get("previous_colour")
    name = f"switch {service} back to {colour} ({previous})"
    if not isinstance(target, DockerTarget):  # the strategy was refused there: it changed nothing
        return CheckResult.ok(name, f"nothing to undo: {record['strategy']} never runs on {target.NAME}",
                              "previous version serving")
    expected = f"{previous} serving from {colour}"
    router = make_router(record.get("router") or {"kind": "none"})
    undo: dict[str, Any] = {"steps": [], "started_at": time.time()}
    try:
        if not previous or not colour:
            for slot in target.colour_slots(service, record.get("colour") or COLOURS[0]):
                target_stop(target, service, slot, undo)
            return CheckResult.ok(name, "nothing served before this deployment; new instances stopped", expected,
                                  evidence={"steps": undo["steps"]})
        slots = target.colour_slots(service, colour)
        if serving_colour(target, service, router) == colour and all(
            target.instance_health(service, s, previous).passed for s in slots
        ):
            return CheckResult.ok(name, f"{previous} already serving from {colour}", expected)
        unhealthy = [s for s in slots if not target.instance_health(service, s, previous).passed]
        results = []
        for slot in unhealthy:
            target.start(service, slot, previous)
            _step(undo, "restarted previous", slot=slot.index, version=previous)
        results = [target.wait_healthy(service, s, previous) for s in unhealthy]
        verdict = combine(name, results) if results else CheckResult.ok(name, "previous colour running", expected)
        if not verdict.passed:
            return verdict
        took = _set_weights(router, target, service, _weights_for(slots), undo, f"switch back to {colour}")
        return CheckResult.ok(name, f"{previous} serving from {colour} (switch {took:.2f}s)", expected,
                              evidence={"steps": undo["steps"], "switch_s": took})
    except ReleaseGateError as exc:
        return CheckResult.fail(name, secrets.redact(str(exc)), expected, evidence={"steps": undo["steps"]})
    finally:
        target.close()


def rollback_canary(record: dict[str, Any]) -> CheckResult:
    """Send all traffic back to the stable colour and stop the canary instances."""
    result = rollback_blue_green(record)
    if not result.passed or not record.get("previous_version"):
        return result
    target = _target_from_record(record)
    if not isinstance(target, DockerTarget):
        return result
    try:
        for slot in target.colour_slots(record["service"]["name"], record["colour"]):
            target.stop(record["service"]["name"], slot)
    finally:
        target.close()
    return result


ROLLBACKS: dict[str, Callable[[dict[str, Any]], CheckResult]] = {
    "recreate": rollback_recreate,
    "rolling": rollback_rolling,
    "blue-green": rollback_blue_green,
    "canary": rollback_canary,
}


def rollback(record: dict[str, Any]) -> CheckResult:
    """Undo one deployment record with the undo of its strategy."""
    strategy = str(record.get("strategy"))
    if strategy not in ROLLBACKS:
        raise ConfigError(f"deployment record has unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    return ROLLBACKS[strategy](record)


def image_check(target: Target, service: str, version: str) -> CheckResult:
    """The image of the release exists (tag and digest in the evidence)."""
    if isinstance(target, DockerTarget):
        return inspect_local_image(target.image_ref(service, version), target.spec.url)
    return target.image_exists(service, version)
