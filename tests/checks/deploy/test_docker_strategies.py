"""Strategies on a real Docker engine with the demo images, behind a real nginx router, under a prober."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from releasegate.checks.deploy import strategies
from releasegate.checks.deploy.prober import Prober
from releasegate.checks.deploy.routers.nginx import Router
from releasegate.checks.deploy.targets.docker import DockerTarget
from releasegate.checks.errors import TargetUnreachable
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Service
from releasegate.checks.runbook.model import Target as TargetSpec

SERVICE = "demo-api"


def settings(router: Router) -> dict[str, Any]:
    return {"kind": "nginx", "root": str(router.root), "listen": router.listen}


def served_version(router: Router) -> str:
    with urllib.request.urlopen(f"{router.url}/version", timeout=3) as response:
        return str(json.loads(response.read())["version"])


def first_release(target: DockerTarget, router: Router, version: str = "1.0.0") -> strategies.Deployment:
    deployment = strategies.deploy(target, SERVICE, version, "recreate", router=router,
                                   router_settings=settings(router))
    assert deployment.passed, deployment.result.summary()
    assert served_version(router) == version
    return deployment


def test_blue_green_switch_and_switch_back_drop_no_request(
    docker_target: Callable[..., DockerTarget], router: Router
) -> None:
    target = docker_target()
    first_release(target, router)

    with Prober(f"{router.url}/version", rate_per_s=60) as prober:
        deployment = strategies.deploy(target, SERVICE, "1.1.0", "blue-green", router=router,
                                       router_settings=settings(router))
    assert deployment.passed, deployment.result.summary()
    record = deployment.record
    assert (record.previous_colour, record.colour) == ("blue", "green")
    assert (record.previous_version, record.version) == ("1.0.0", "1.1.0")
    assert str(record.image_digest).startswith("sha256:") and str(record.previous_image_digest).startswith("sha256:")
    assert served_version(router) == "1.1.0" and target.serving_version(SERVICE) == "1.1.0"
    assert record.switch_s is not None and record.switch_s < 2
    # the old colour keeps running for an instant switch-back
    blue = target.instance(SERVICE, target.colour_slots(SERVICE, "blue")[0])
    assert blue is not None and blue.status == "running" and blue.version == "1.0.0"
    check = prober.result.check("no request failed during the switch", min_rate_per_s=50)
    assert check.passed, check.summary()
    assert set(prober.result.versions) == {"1.0.0", "1.1.0"}

    kept = json.loads(json.dumps(record.as_dict()))  # as the journal holds it
    with Prober(f"{router.url}/version", rate_per_s=60) as back:
        undone = strategies.rollback_blue_green(kept)
    assert undone.passed, undone.summary()
    assert undone.evidence["switch_s"] < 2
    assert served_version(router) == "1.0.0"
    assert back.result.check(min_rate_per_s=50).passed, back.result.as_dict()
    again = strategies.rollback(record)
    assert again.passed and "already serving" in str(again.observed)


def test_blue_green_never_switches_to_a_build_that_crashes(
    docker_target: Callable[..., DockerTarget], router: Router
) -> None:
    target = docker_target()
    first_release(target, router)
    deployment = strategies.deploy(target, SERVICE, "1.1.0-crash", "blue-green", router=router,
                                   router_settings=settings(router))
    assert deployment.result.failed
    assert "container exited" in deployment.result.detail
    assert deployment.result.elapsed_s < 15  # a crashed container fails the gate at once, not at the timeout
    assert served_version(router) == "1.0.0"
    assert target.instance(SERVICE, target.colour_slots(SERVICE, "green")[0]) is None  # standby cleaned up


def test_rolling_two_instances_one_at_a_time_then_rollback_of_a_crash(
    docker_target: Callable[..., DockerTarget], router: Router
) -> None:
    target = docker_target(instances=2)
    first_release(target, router)
    with Prober(f"{router.url}/version", rate_per_s=60) as prober:
        rolled = strategies.deploy(target, SERVICE, "1.1.0", "rolling", router=router,
                                   router_settings=settings(router))
    assert rolled.passed, rolled.result.summary()
    steps = [(s["step"], s.get("slot")) for s in rolled.record.steps if s["step"] != "already at version"]
    assert steps == [("drain slot 0", None), ("replaced", 0), ("health gate", 0), ("restore slot 0", None),
                     ("drain slot 1", None), ("replaced", 1), ("health gate", 1), ("restore slot 1", None)]
    assert prober.result.check(min_rate_per_s=50).passed, prober.result.as_dict()
    assert {i.version for i in target.instances(SERVICE)} == {"1.1.0"}

    with Prober(f"{router.url}/version", rate_per_s=60) as during:
        crashed = strategies.deploy(target, SERVICE, "1.1.0-crash", "rolling", router=router,
                                    router_settings=settings(router))
        assert crashed.result.failed
        assert [s["step"] for s in crashed.record.steps][-1] == "health gate"  # stopped at the first instance
        undone = strategies.rollback(crashed.record)
    assert undone.passed, undone.summary()
    assert {i.version for i in target.instances(SERVICE)} == {"1.1.0"}
    assert target.health(SERVICE).passed
    # the crashing instance was drained first: no request reached it
    assert during.result.check(min_rate_per_s=50).passed, during.result.as_dict()


def test_canary_follows_the_weights_and_a_failed_gate_sets_weight_zero_and_rolls_back(
    docker_target: Callable[..., DockerTarget], router: Router
) -> None:
    target = docker_target()
    first_release(target, router)
    seen: dict[int, Counter[str]] = {}

    def gate(weight: int) -> CheckResult:
        seen[weight] = Counter(served_version(router) for _ in range(100))
        if weight >= 25:
            return CheckResult.fail("error rate of the canary", 0.2, "<= 0.01")
        return CheckResult.ok("error rate of the canary", 0.0, "<= 0.01")

    with Prober(f"{router.url}/version", rate_per_s=60) as prober:
        deployment = strategies.deploy(target, SERVICE, "1.1.0", "canary", router=router,
                                       router_settings=settings(router), gate=gate, weights=[5, 25, 50, 100])
    assert deployment.result.failed and deployment.record.outcome == "aborted"
    assert deployment.record.weight == 0
    assert [s["step"] for s in deployment.record.steps if s["step"].startswith("canary")] == [
        "canary 5%", "canary 25%", "canary weight 0"]
    assert 1 <= seen[5]["1.1.0"] <= 15 and 15 <= seen[25]["1.1.0"] <= 40, seen
    assert served_version(router) == "1.0.0"
    assert target.instance(SERVICE, target.colour_slots(SERVICE, "green")[0]) is None
    assert prober.result.check(min_rate_per_s=50).passed, prober.result.as_dict()
    assert strategies.rollback(deployment.record).passed  # nothing left to undo: idempotent

    promoted = strategies.deploy(target, SERVICE, "1.1.0", "canary", router=router,
                                 router_settings=settings(router), weights=[50, 100])
    assert promoted.passed, promoted.result.summary()
    assert served_version(router) == "1.1.0" and promoted.record.colour == "green"


def test_image_presence_health_status_and_unreachable_engine(
    docker_target: Callable[..., DockerTarget], router: Router
) -> None:
    target = docker_target()
    found = target.image_exists(SERVICE, "1.1.0")
    assert found.passed and found.evidence["digest"].startswith("sha256:") and found.evidence["healthcheck"]
    missing = target.image_exists(SERVICE, "9.9.9")
    assert missing.failed
    first_release(target, router)
    health = target.health(SERVICE)
    assert health.passed and "docker health healthy" in json.dumps(health.observed), health.summary()

    away = DockerTarget(TargetSpec(name="remote", kind="docker", url="unix:///tmp/releasegate-targets/none.sock"),
                        [Service(name=SERVICE, base_url=router.url)])
    with pytest.raises(TargetUnreachable, match="cannot reach the Docker engine"):
        away.check_reachable()
    assert away.image_exists(SERVICE, "1.0.0").inconclusive


def test_target_rollback_without_a_record_finds_the_previous_colour_and_is_idempotent(
    docker_target: Callable[..., DockerTarget], router: Router
) -> None:
    target = docker_target()
    first_release(target, router)
    deployment = strategies.deploy(target, SERVICE, "1.1.0", "blue-green", router=router,
                                   router_settings=settings(router))
    assert deployment.passed
    assert [s.colour for s in target.active_slots(SERVICE)] == ["green"]  # decided by what the router serves
    done = target.rollback(SERVICE)
    assert done.outcome == "done" and done.version == "1.0.0"
    green = target.instance(SERVICE, target.colour_slots(SERVICE, "green")[0])
    assert green is not None and green.version == "1.0.0"
    assert "skipped" in target.rollback(SERVICE, deployment.record).details  # 1.0.0 already serves
