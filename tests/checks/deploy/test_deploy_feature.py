"""The deploy steps in a feature file, run by pytest-bdd against real Docker and a real nginx router."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from releasegate.checks.deploy import strategies
from releasegate.checks.deploy.routers.nginx import Router
from releasegate.checks.deploy.targets.docker import DockerTarget
from releasegate.checks.run.journal import Journal

FEATURE = """\
Feature: blue-green release of the demo
  @deploy
  Scenario: start the standby colour, switch, switch back
    Given the image for the release exists
    When the new version is started on the standby colour
    Then "demo-api" serves version "1.0.0"
    When the traffic is switched to the new version
    Then no request failed during the switch
    And "demo-api" serves version "1.1.0"
    And every service serves the release version
    And all containers are running and healthy
    And the process "demo_service" runs as the user "appuser" on the host "green"
    And port {green_port} is listening on the host "green"
    When the traffic is switched back to the previous version
    Then no request failed during the rollback
    And "demo-api" serves version "1.0.0"
"""

CANARY = """\
Feature: canary without analysis data
  @deploy
  Scenario: the gate cannot judge, so the canary goes back to weight 0
    When the canary advances through 5, 25, 50, 100 percent
"""


def _runbook(target: DockerTarget, router: Router) -> str:
    green = target.colour_slots("demo-api", "green")[0]
    return json.dumps({
        "name": "local",
        "release": {"version": "1.1.0", "previous_version": "1.0.0"},
        "services": [{"name": "demo-api", "base_url": router.url, "image": "releasegate-demo", "readiness": None}],
        "targets": [{"name": "docker", "kind": "docker", "options": target.spec.model_dump(mode="json")["options"]},
                    {"name": "green", "kind": "host", "url": f"docker://{green.name}"}],
        "deploy": {"target": "docker", "strategy": "blue-green",
                   "router": {"kind": "nginx", "url": router.url,
                              "options": {"root": str(router.root), "listen": router.listen}}},
    })


def test_blue_green_feature_switches_and_switches_back(
    rg_project: Callable[..., pytest.Pytester], docker_target: Callable[..., DockerTarget], router: Router
) -> None:
    target = docker_target()
    settings = {"kind": "nginx", "root": str(router.root), "listen": router.listen}
    assert strategies.deploy(target, "demo-api", "1.0.0", "recreate", router=router, router_settings=settings).passed
    green_port = target.colour_slots("demo-api", "green")[0].port
    pytester = rg_project(runbooks={"local": _runbook(target, router)},
                          features={"bluegreen": FEATURE.replace("{green_port}", str(green_port))})
    result = pytester.runpytest("features/bluegreen.feature", "--env", "local", "-v",
                                "--junitxml", "junit.xml")
    result.assert_outcomes(passed=1)
    junit = Path(pytester.path / "junit.xml").read_text()
    assert "no request failed during the switch: PASS" in junit
    journal = next((pytester.path / "reports" / "journal").glob("*.jsonl")).read_text()
    assert "deploy.strategies:rollback_blue_green" in journal


def test_canary_without_analysis_data_goes_back_to_weight_zero(
    rg_project: Callable[..., pytest.Pytester], docker_target: Callable[..., DockerTarget], router: Router
) -> None:
    target = docker_target()
    settings = {"kind": "nginx", "root": str(router.root), "listen": router.listen}
    assert strategies.deploy(target, "demo-api", "1.0.0", "recreate", router=router, router_settings=settings).passed
    pytester = rg_project(runbooks={"local": _runbook(target, router)}, features={"canary": CANARY})
    result = pytester.runpytest("features/canary.feature", "--env", "local", "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*canary demo-api 1.1.0 through 5, 25, 50, 100%: INCONCLUSIVE*"])
    assert "Traceback" not in result.stdout.str()
    assert target.serving_version("demo-api") == "1.0.0"
    live = {a for a, w in router.weights().items() if w > 0}
    assert live == {target.colour_slots("demo-api", "blue")[0].address}


RELEASE = """\
Feature: release with a critical smoke check
  @deploy
  Scenario: deploy
    When the release is deployed with the blue-green strategy
    Then "demo-api" serves version "1.1.0"

  @smoke @critical
  Scenario: smoke
    Then "demo-api" serves version "1.1.1"

  @post-rollback
  Scenario: after the rollback
    Then "demo-api" serves version "1.0.0"
    And all containers are running and healthy
"""


def test_a_critical_failure_rolls_the_blue_green_deployment_back_through_the_journal(
    rg_project: Callable[..., pytest.Pytester], docker_target: Callable[..., DockerTarget], router: Router
) -> None:
    target = docker_target()
    settings = {"kind": "nginx", "root": str(router.root), "listen": router.listen}
    assert strategies.deploy(target, "demo-api", "1.0.0", "recreate", router=router, router_settings=settings).passed
    pytester = rg_project(runbooks={"local": _runbook(target, router)}, features={"release": RELEASE})
    result = pytester.runpytest("features/release.feature", "--env", "local", "-v")
    result.assert_outcomes(passed=2, failed=1)
    assert target.serving_version("demo-api") == "1.0.0"
    events = [json.loads(line) for line in
              next((pytester.path / "reports" / "journal").glob("*.jsonl")).read_text().splitlines()]
    done = [e for e in events if e["event"] == "rollback_action_done"]
    undo = "releasegate.checks.deploy.strategies:rollback_blue_green"
    assert [(e["action"], e["outcome"]) for e in done] == [(undo, "PASS")]


def test_unknown_target_kind_is_one_line_before_anything_runs(rg_project: Callable[..., pytest.Pytester]) -> None:
    runbook = json.dumps({"name": "local", "services": [{"name": "demo-api", "base_url": "http://127.0.0.1:18199"}],
                          "targets": [{"name": "cluster", "kind": "nomad"}]})
    pytester = rg_project(runbooks={"local": runbook}, features={"canary": CANARY})
    result = pytester.runpytest("features/canary.feature", "--env", "local")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*runbooks/local.yaml:1: targets[[]0[]]: unknown target kind 'nomad' (target"
                                 " 'cluster'); use one of: compose, docker, host, kubernetes"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_unreachable_docker_engine_is_inconclusive_not_a_pass(rg_project: Callable[..., pytest.Pytester]) -> None:
    runbook = json.dumps({"name": "local", "release": {"version": "1.1.0"},
                          "services": [{"name": "demo-api", "base_url": "http://127.0.0.1:18199"}],
                          "targets": [{"name": "remote", "kind": "docker",
                                       "url": "unix:///tmp/releasegate-targets/none.sock"}],
                          "deploy": {"router": {"kind": "none"}}})
    feature = ("Feature: x\n  Scenario: y\n    Given the image for the release exists\n"
               "    When the release is deployed with the recreate strategy\n")
    pytester = rg_project(runbooks={"local": runbook}, features={"unreachable": feature})
    result = pytester.runpytest("features/unreachable.feature", "--env", "local")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*images of 1.1.0: INCONCLUSIVE*cannot reach the Docker engine*"])
    assert "Traceback" not in result.stdout.str()


def test_dry_run_runs_the_read_only_deploy_checks_and_skips_the_deployment(
    rg_project: Callable[..., pytest.Pytester], docker_target: Callable[..., DockerTarget], router: Router
) -> None:
    target = docker_target()
    feature = ("Feature: x\n"
               "  @preflight\n  Scenario: look\n    Given the image for the release exists\n"
               "    Then all containers are running and healthy\n"
               "  @deploy\n  Scenario: change\n    When the release is deployed with the blue-green strategy\n")
    settings = {"kind": "nginx", "root": str(router.root), "listen": router.listen}
    assert strategies.deploy(target, "demo-api", "1.0.0", "recreate", router=router, router_settings=settings).passed
    pytester = rg_project(runbooks={"local": _runbook(target, router)}, features={"dry": feature})
    result = pytester.runpytest("features/dry.feature", "--env", "local", "--dry-run", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    assert target.serving_version("demo-api") == "1.0.0"
    assert target.instance("demo-api", target.colour_slots("demo-api", "green")[0]) is None


DIES_AFTER_SWITCH = """
import os
import signal
from pathlib import Path

from releasegate.checks.deploy.strategies import bluegreen

_switch = bluegreen.set_weights


def _killed_right_after_the_switch(router, control, service, weights, record, what, **options):
    took = _switch(router, control, service, weights, record, what, **options)
    marker = Path("die-after-switch")
    if what.startswith("switch to") and marker.exists():
        marker.unlink()
        os.kill(os.getpid(), signal.SIGKILL)  # before the deploy step returns: no outcome is journaled
    return took


bluegreen.set_weights = _killed_right_after_the_switch
"""


def test_sigkill_right_after_the_switch_then_rollback_only_brings_the_previous_version_back(
    rg_project: Callable[..., pytest.Pytester], docker_target: Callable[..., DockerTarget], router: Router
) -> None:
    target = docker_target()
    settings = {"kind": "nginx", "root": str(router.root), "listen": router.listen}
    assert strategies.deploy(target, "demo-api", "1.0.0", "recreate", router=router, router_settings=settings).passed
    pytester = rg_project(runbooks={"local": _runbook(target, router)}, features={"release": RELEASE},
                          steps=DIES_AFTER_SWITCH)
    (pytester.path / "die-after-switch").touch()
    killed = pytester.runpytest_subprocess("features/release.feature", "--env", "local", timeout=240)
    assert killed.ret == -signal.SIGKILL, killed.stdout.str()
    assert target.serving_version("demo-api") == "1.1.0"  # switched, and the process died right after
    journal = Journal.latest(pytester.path / "reports" / "journal")
    assert journal is not None
    [step] = journal.plan()
    assert step.status == "intended" and step.params["colour"] == "green"

    finished = pytester.runpytest_subprocess("features/release.feature", "--env", "local", "--rollback-only",
                                             "-v", timeout=240)
    finished.stdout.fnmatch_lines(["*decision: ROLLED BACK*"])
    assert target.serving_version("demo-api") == "1.0.0"
    assert target.instance("demo-api", target.colour_slots("demo-api", "green")[0]) is None  # no orphan
    done = journal.events("rollback_action_done")
    assert [(e["key"], e["outcome"]) for e in done] == [(step.key, "PASS")]
