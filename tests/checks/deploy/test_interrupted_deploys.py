"""A deployment interrupted in each window, on a real Docker engine behind a real nginx router.

The write-ahead journal (``checks.run.changes``) records the intent and the record before each
change; the process "dies" by raising from the journal's progress update and writing nothing
more, as a SIGKILL would leave it. The plan read back from the journal file must undo exactly
what was done: the previous version serves, the release's containers are gone, and an undo run
again changes nothing.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from releasegate.checks.deploy import observe, strategies
from releasegate.checks.deploy.record import DeploymentRecord
from releasegate.checks.deploy.routers.nginx import Router
from releasegate.checks.deploy.targets.docker import DockerTarget
from releasegate.checks.run.journal import Journal
from releasegate.checks.run.rollback_plan import execute_plan
from releasegate.checks.runbook.model import Deploy, Runbook
from releasegate.checks.runbook.model import Router as RouterSpec
from releasegate.plugins.journal import StageRecorder

SERVICE = "demo-api"


class Died(BaseException):
    """The process ends here: nothing after it reaches the journal (as after SIGKILL)."""


class DyingJournal(Journal):
    """A journal whose process dies once ``dies(params)`` is true for a progress update just written."""

    def __init__(self, path: Path, dies: Callable[[dict[str, Any]], bool]) -> None:
        super().__init__(path)
        self.dies, self.dead = dies, False

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        if self.dead:
            return {"id": "never-written", "ts": 0.0}
        return super().append(event, **fields)

    def change_updated(self, key: str, params: dict[str, Any]) -> dict[str, Any]:
        written = super().change_updated(key, params)
        if self.dies(params):
            self.dead = True
            raise Died()
        return written


def settings(router: Router) -> dict[str, Any]:
    return {"kind": "nginx", "root": str(router.root), "listen": router.listen}


def served_version(router: Router) -> str:
    with urllib.request.urlopen(f"{router.url}/version", timeout=3) as response:
        return str(json.loads(response.read())["version"])


def runbook_for(target: DockerTarget, router: Router, strategy: str) -> Runbook:
    return Runbook(name="local", services=list(target.services.values()), targets=[target.spec],
                   deploy=Deploy(target=target.spec.name, strategy=strategy,  # type: ignore[arg-type]
                                 router=RouterSpec(kind="nginx", url=router.url,
                                                   options={"root": str(router.root), "listen": router.listen})))


def running(target: DockerTarget) -> dict[str, str | None]:
    """colour -> version of every container of the service (any state: an orphan counts)."""
    found = {}
    for slot in target.slots(SERVICE):
        instance = target.instance(SERVICE, slot)
        if instance is not None:
            found[f"{slot.colour}{slot.index}"] = instance.version
    return found


def about_to(what: str) -> Callable[[dict[str, Any]], bool]:
    return lambda params: str(params.get("next_change") or "").startswith(what)


def just_did(what: str) -> Callable[[dict[str, Any]], bool]:
    def done(params: dict[str, Any]) -> bool:
        steps = params.get("steps") or []
        return params.get("next_change") is None and bool(steps) and steps[-1]["step"] == what
    return done


@pytest.fixture
def released(docker_target: Callable[..., DockerTarget], router: Router) -> DockerTarget:
    """1.0.0 serving from blue."""
    target = docker_target()
    first = strategies.deploy(target, SERVICE, "1.0.0", "recreate", router=router, router_settings=settings(router))
    assert first.passed, first.result.summary()
    return target


def deploy_until_death(target: DockerTarget, router: Router, journal_path: Path, strategy: str,
                       dies: Callable[[dict[str, Any]], bool], **options: Any) -> None:
    journal = DyingJournal(journal_path, dies)
    with pytest.raises(Died):
        observe.deploy_services(runbook_for(target, router, strategy), target, "1.1.0",
                                changes=StageRecorder(journal, None), **options)


def replay(journal_path: Path) -> list[str]:
    """The plan of the journal file, as --rollback-only finds it, executed; the status of each step."""
    journal = Journal(journal_path)
    plan = journal.plan()
    report = execute_plan(journal, trigger="test")
    assert report.ran and report.outcome.value == "PASS", report.summary()
    return [step.status for step in plan]


@pytest.mark.parametrize(("window", "dies", "during"), [
    ("before the green container starts", about_to("start 1.1.0 in green"), {"blue0": "1.0.0"}),
    ("green started, before the switch", about_to("switch to green"), {"blue0": "1.0.0", "green1": "1.1.0"}),
    ("right after the switch", just_did("switch to green"), {"blue0": "1.0.0", "green1": "1.1.0"}),
])
def test_blue_green_interrupted_is_undone_from_the_journal(
    released: DockerTarget, router: Router, tmp_path: Path, window: str, dies: Callable[[dict[str, Any]], bool],
    during: dict[str, str],
) -> None:
    path = tmp_path / "run.jsonl"
    deploy_until_death(released, router, path, "blue-green", dies)
    assert running(released) == during, window
    assert served_version(router) == ("1.1.0" if window == "right after the switch" else "1.0.0")
    plan = Journal(path).plan()
    assert len(plan) == 1 and plan[0].status == "intended"  # the process died: no outcome was written
    record = DeploymentRecord.from_dict(plan[0].params)
    assert (record.colour, record.previous_colour, record.previous_version) == ("green", "blue", "1.0.0")

    assert replay(path) == ["intended"]
    assert served_version(router) == "1.0.0"
    assert running(released) == {"blue0": "1.0.0"}  # no orphan: the colour the release started is gone
    again = strategies.rollback(plan[0].params)
    assert again.passed and "already serving" in str(again.observed), again.summary()


def test_router_killed_during_the_switch_keeps_the_partial_record_and_the_undo_brings_blue_back(
    released: DockerTarget, router: Router, tmp_path: Path
) -> None:
    host, port = router.listen.rsplit(":", 1)
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def kill_router(params: dict[str, Any]) -> bool:
        if str(params.get("next_change") or "").startswith("switch to green"):
            master = psutil.Process(router.pid() or 0)
            every = [master, *master.children(recursive=True)]  # the master first: it would start new workers
            for process in every:
                process.kill()
            psutil.wait_procs(every, timeout=5)
            deadline = time.monotonic() + 5
            while True:  # and it cannot come back while the port is taken
                try:
                    squatter.bind((host, int(port)))
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            squatter.listen()
        return False

    path = tmp_path / "run.jsonl"
    try:
        done = observe.deploy_services(runbook_for(released, router, "blue-green"), released, "1.1.0",
                                       changes=StageRecorder(DyingJournal(path, kill_router), None))
    finally:
        squatter.close()
    assert len(done) == 1 and done[0].result.failed
    record = done[0].record  # the partial record, not a fresh empty one
    assert (record.colour, record.previous_colour, record.previous_version) == ("green", "blue", "1.0.0")
    assert [s["step"] for s in record.steps][-1] == "error"
    plan = Journal(path).plan()
    assert len(plan) == 1 and plan[0].status == "failed" and plan[0].params["colour"] == "green"

    assert replay(path) == ["failed"]
    assert router.running() and served_version(router) == "1.0.0"
    assert running(released) == {"blue0": "1.0.0"}


def test_canary_interrupted_at_a_weight_is_undone_from_the_journal(
    released: DockerTarget, router: Router, tmp_path: Path
) -> None:
    path = tmp_path / "run.jsonl"
    deploy_until_death(released, router, path, "canary", about_to("canary 50%"), weights=[5, 25, 50, 100])
    live = {a for a, w in router.weights().items() if w > 0}
    assert len(live) == 2  # blue and the canary share the traffic at 25%
    plan = Journal(path).plan()
    assert plan[0].params["weight"] == 25 and plan[0].params["colour"] == "green"
    assert replay(path) == ["intended"]
    assert served_version(router) == "1.0.0"
    assert {a for a, w in router.weights().items() if w > 0} == {released.colour_slots(SERVICE, "blue")[0].address}
    assert running(released) == {"blue0": "1.0.0"}


def test_recreate_interrupted_between_stop_and_start_puts_the_previous_version_back(
    released: DockerTarget, router: Router, tmp_path: Path
) -> None:
    path = tmp_path / "run.jsonl"
    deploy_until_death(released, router, path, "recreate", about_to("start 1.1.0"))
    assert running(released) == {}  # stopped, the new one never started: nothing serves
    plan = Journal(path).plan()
    assert plan[0].params["previous_version"] == "1.0.0"
    assert replay(path) == ["intended"]
    assert served_version(router) == "1.0.0"
    assert running(released) == {"blue0": "1.0.0"}


def test_a_deployment_that_changed_nothing_leaves_nothing_to_undo(
    released: DockerTarget, router: Router, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "run.jsonl")
    done = observe.deploy_services(runbook_for(released, router, "blue-green"), released, "9.9.9",
                                   changes=StageRecorder(journal, None))
    assert done[0].result.failed and "9.9.9" in done[0].result.summary()
    failed = journal.last("change_failed")
    assert failed is not None and failed["made"] is False
    assert journal.plan() == []  # a critical failure now ends BLOCKED: nothing was changed


def test_blue_green_undo_never_stops_the_only_colour_that_serves(
    docker_target: Callable[..., DockerTarget], router: Router
) -> None:
    target = docker_target()
    first = strategies.deploy(target, SERVICE, "1.0.0", "blue-green", router=router, router_settings=settings(router))
    assert first.passed and first.record.previous_version is None  # nothing served before
    undone = strategies.rollback(first.record)
    assert undone.failed and "the only colour that can serve" in str(undone.observed), undone.summary()
    assert "a person decides" in undone.detail
    assert served_version(router) == "1.0.0" and running(target) == {"blue0": "1.0.0"}


def test_an_undo_without_a_colour_stops_only_what_receives_no_traffic(
    released: DockerTarget, router: Router
) -> None:
    deployed = strategies.deploy(released, SERVICE, "1.1.0", "blue-green", router=router,
                                 router_settings=settings(router))
    assert deployed.passed and served_version(router) == "1.1.0"
    # as an older releasegate journaled a failed deployment: a fresh record, no colour, no previous version
    empty = DeploymentRecord(strategy="blue-green", undo=deployed.record.undo, target=deployed.record.target,
                             service=deployed.record.service, router=deployed.record.router, version="1.1.0")
    undone = strategies.rollback(empty.as_dict())
    assert undone.passed, undone.summary()
    assert served_version(router) == "1.1.0" and running(released) == {"blue0": "1.0.0", "green1": "1.1.0"}


def test_rolling_interrupted_between_two_instances_rolls_the_replaced_one_back(
    docker_target: Callable[..., DockerTarget], router: Router, tmp_path: Path
) -> None:
    target = docker_target(instances=2)
    first = strategies.deploy(target, SERVICE, "1.0.0", "recreate", router=router, router_settings=settings(router))
    assert first.passed, first.result.summary()
    path = tmp_path / "run.jsonl"
    deploy_until_death(target, router, path, "rolling", about_to("replace slot 1"))
    assert running(target) == {"blue0": "1.1.0", "blue1": "1.0.0"}
    plan = Journal(path).plan()
    assert plan[0].params["slots"] == [0, 1] and plan[0].params["previous_version"] == "1.0.0"
    assert replay(path) == ["intended"]
    assert running(target) == {"blue0": "1.0.0", "blue1": "1.0.0"}
    blue = {s.address for s in target.colour_slots(SERVICE, "blue")}
    assert {a for a, w in router.weights().items() if w > 0} == blue
