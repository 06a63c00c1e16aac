"""The router's health is the router's: a real nginx that is half-dead, down, on a stale generation or
sending traffic nowhere fails verify_weights (what every strategy calls after a switch) with one
line, and the local stack's status says the same about it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support.routers import BLUE, DEAD, GREEN, SECOND_LISTEN, hits

from releasegate.checks._support import processes
from releasegate.checks.deploy.routers.nginx import Answer, Router
from releasegate.checks.errors import CheckError
from releasegate.localstack import router as stack_router
from releasegate.localstack.config import StackConfig

WEIGHTS = {BLUE: 100, GREEN: 0}
COLOURS = {"blue": BLUE, "green": GREEN}


def _stack(router: Router) -> StackConfig:
    """A stack config whose router is the test's (``<tmp>/nginx`` on its port); nothing else of it runs."""
    assert router.root.name == "nginx"
    return StackConfig(root=router.root.parent, router_listen=router.listen)


def _refused(router: Router, *, match: str) -> str:
    """verify_weights raises one line matching ``match``; the line."""
    with pytest.raises(CheckError, match=match) as raised:
        router.verify_weights(WEIGHTS)
    message = str(raised.value)
    assert "\n" not in message
    return message


def _gone(pid: int, timeout_s: float = 5) -> None:
    deadline = time.monotonic() + timeout_s
    while processes.alive(pid):
        assert time.monotonic() < deadline, f"pid {pid} still alive"
        time.sleep(0.02)


def test_a_healthy_router_and_the_stack_status_agree(router: Router) -> None:
    router.set_weights(WEIGHTS, colors=COLOURS)
    health = router.health()
    assert health.passed, health
    status = stack_router.status(_stack(router))
    assert status.running and f"config generation {health.evidence['generation_on_disk']}" in status.detail
    assert f"weights {WEIGHTS}" in status.detail


def test_a_master_killed_with_its_worker_left_fails_the_switch(router: Router) -> None:
    router.set_weights(WEIGHTS, colors=COLOURS)
    assert router.verify_weights(WEIGHTS)
    master, workers = router.pid(), router.processes().workers
    assert master is not None and workers
    os.kill(master, signal.SIGKILL)
    _gone(master)
    assert all(processes.alive(w) for w in workers)
    assert hits(router, 3) == Counter({"blue": 3})  # the trap: the orphaned worker still answers

    message = _refused(router, match=r"is half-dead: its master process is gone")
    assert f"worker pid {workers[0]} still holds the port" in message
    with pytest.raises(CheckError, match=r"cannot set router weights: .* is half-dead"):
        router.set_weights({BLUE: 0, GREEN: 100})
    assert router.weights() == WEIGHTS  # nothing was written
    status = stack_router.status(_stack(router))
    assert not status.running and "half-dead" in status.detail
    assert status.line().startswith("MISSING")

    router.stop()  # stops the orphaned worker too
    assert router.processes().orphans == [] and not any(processes.alive(w) for w in workers)
    router.start()
    assert router.verify_weights(WEIGHTS)


def test_the_stack_brings_a_half_dead_router_back(router: Router) -> None:
    router.set_weights(WEIGHTS, colors=COLOURS)
    master = router.pid()
    assert master is not None
    os.kill(master, signal.SIGKILL)
    _gone(master)
    assert router.processes().orphans
    stack_router.ensure(_stack(router))
    assert router.verify_weights(WEIGHTS) and stack_router.status(_stack(router)).running


@pytest.mark.parametrize("how", ["stopped", "killed with its workers"])
def test_a_router_that_is_down_fails_the_switch(router: Router, how: str) -> None:
    router.set_weights(WEIGHTS, colors=COLOURS)
    if how == "stopped":
        router.stop()
    else:
        found = router.processes()
        assert found.master is not None
        for pid in (found.master, *found.workers):
            os.kill(pid, signal.SIGKILL)
        for pid in (found.master, *found.workers):
            _gone(pid)
    message = _refused(router, match=r"nginx on \S+ is not running \(no master process for .*\); start it: ")
    assert str(router.conf) in message
    with pytest.raises(CheckError, match=r"cannot set router weights: .* is not running"):
        router.set_weights({BLUE: 0, GREEN: 100})
    assert not router.running()  # a router that ran here is not silently started again
    status = stack_router.status(_stack(router))
    assert not status.running and "is not running" in status.detail


@pytest.mark.parametrize("victims", ["master", "master and workers"])
def test_a_router_killed_during_the_switch_fails_it(router: Router, monkeypatch: pytest.MonkeyPatch,
                                                    victims: str) -> None:
    router.set_weights(WEIGHTS, colors=COLOURS)
    real_run = subprocess.run

    def run_then_kill(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        found = router.processes()
        done: subprocess.CompletedProcess[str] = real_run(args, **kwargs)
        if "reload" in args:  # the signal is sent: kill the router before it confirms the new generation
            assert found.master is not None
            for pid in (found.master, *(found.workers if victims != "master" else ())):
                os.kill(pid, signal.SIGKILL)
        return done

    monkeypatch.setattr(subprocess, "run", run_then_kill)  # the router runs nginx through it
    with pytest.raises(CheckError, match=r"nginx master pid \d+ died while taking config generation \d+: ") as raised:
        router.set_weights({BLUE: 0, GREEN: 100})
    monkeypatch.undo()
    assert "\n" not in str(raised.value)
    assert router.weights() == WEIGHTS  # the file is put back: the switch did not happen
    with pytest.raises(CheckError, match=r"half-dead|not running"):
        router.verify_weights(WEIGHTS)
    assert not stack_router.status(_stack(router)).running


def test_a_config_written_but_never_loaded_fails_the_switch(router: Router, monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """The releasing process dies between writing upstreams.conf and the reload."""
    router.set_weights(WEIGHTS, colors=COLOURS)
    loaded = router.state()["generation"]
    assert isinstance(loaded, int)

    def dies() -> None:
        raise KeyboardInterrupt

    switched = {BLUE: 0, GREEN: 100}
    monkeypatch.setattr(router, "reload", dies)
    with pytest.raises(KeyboardInterrupt):
        router.set_weights(switched)
    monkeypatch.undo()
    assert router.weights() == switched  # the file says green
    assert hits(router, 3) == Counter({"blue": 3})  # nginx still sends blue
    with pytest.raises(CheckError, match=rf"runs config generation {loaded}, but .* holds generation {loaded + 1}"):
        router.verify_weights(switched)
    assert not stack_router.status(_stack(router)).running  # the stack does not call it up either


def test_a_reload_the_master_never_takes_fails_the_switch(router: Router) -> None:
    router.set_weights(WEIGHTS, colors=COLOURS)
    router.reload_timeout_s = 1.5
    master = router.pid()
    assert master is not None
    os.kill(master, signal.SIGSTOP)  # the reload signal waits; the worker keeps answering the old generation
    try:
        with pytest.raises(CheckError, match=r"did not take config generation \d+ within 1.5s"):
            router.set_weights({BLUE: 0, GREEN: 100})
    finally:
        os.kill(master, signal.SIGCONT)
    assert router.weights() == WEIGHTS  # the file is put back to what nginx runs
    router.reload_timeout_s = 10
    router.reload()
    assert router.verify_weights(WEIGHTS)


def test_a_switch_to_an_address_that_does_not_answer_fails(router: Router) -> None:
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", int(DEAD.rpartition(":")[2]))) != 0, f"{DEAD} is in use"
    weights = {DEAD: 100, BLUE: 0}
    router.set_weights(weights, colors={"blue": BLUE, "green": DEAD})
    with pytest.raises(CheckError, match=rf"10 of 10 requests through .* were not answered by {DEAD}: HTTP 502"
                                         rf" from nginx itself, no backend answered after trying {DEAD}"):
        router.verify_weights(weights)
    assert router.last_verification is not None
    assert router.last_verification.evidence["sample"]["answered_by"] == {"HTTP 502": 10}


def test_a_sampled_answer_is_judged_by_address_and_worker() -> None:
    targets, workers = {BLUE}, [41]
    assert Answer(200, (BLUE,), BLUE, 41).problem(targets, workers) is None
    assert Answer(200, (DEAD, BLUE), BLUE, 41).problem(targets, workers) == (
        f"sent to {DEAD}, which should get no traffic (HTTP 200)")
    assert Answer(200, (BLUE,), BLUE, 7).problem(targets, workers) == (
        "answered through pid 7, not a worker of the live nginx master ([41])")
    assert Answer(502, (BLUE, "demo"), None, 41).problem(targets, workers) == (
        f"HTTP 502 from nginx itself, no backend answered after trying {BLUE}, demo")
    assert Answer(None, error="ConnectError: refused").problem(targets, workers) == "no answer (ConnectError: refused)"


def test_a_fresh_folder_is_started_by_the_first_switch(tmp_path: Path, backends: None) -> None:
    fresh = Router(root=tmp_path / "nginx", listen=SECOND_LISTEN)
    assert not fresh.running()
    try:
        fresh.set_weights(WEIGHTS, colors=COLOURS)
        assert fresh.verify_weights(WEIGHTS)
    finally:
        fresh.stop()
