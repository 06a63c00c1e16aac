"""The nginx Router (releasegate/checks/deploy/routers/nginx.py) with a real nginx in front of two tiny HTTP servers.

The servers are in ``support/routers.py``, the router fixture in ``routers/conftest.py``; their ports
depend on the xdist worker.
"""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest
from support.routers import BLUE, GREEN, LISTEN, hits

from releasegate.checks.deploy.routers.nginx import Router
from releasegate.checks.errors import CheckError


def test_weights_are_written_read_back_and_served(router: Router) -> None:
    assert router.set_weights({BLUE: 100, GREEN: 0}, colors={"blue": BLUE, "green": GREEN}) == {BLUE: 100, GREEN: 0}
    assert hits(router, 10) == Counter({"blue": 10})
    assert router.colors() == {"blue": BLUE, "green": GREEN}
    assert hits(router, 3, {"X-Releasegate-Color": "green"}) == Counter({"green": 3})

    assert router.set_weights({BLUE: 75, GREEN: 25}) == {BLUE: 75, GREEN: 25}
    assert hits(router, 100) == Counter({"blue": 75, "green": 25})  # nginx's smooth weighted round robin
    assert router.colors() == {"blue": BLUE, "green": GREEN}

    assert router.switch_to(GREEN) == {BLUE: 0, GREEN: 100}
    assert hits(router, 10) == Counter({"green": 10})
    state = router.state()
    assert state["weights"] == {BLUE: 0, GREEN: 100}

    restarted = Router(root=router.root, listen=LISTEN)  # a new process reads the state back from the config
    assert restarted.weights() == {BLUE: 0, GREEN: 100}


def test_a_healthy_switch_is_verified_by_processes_generation_and_a_sample(router: Router) -> None:
    weights = {BLUE: 0, GREEN: 100}
    router.set_weights(weights, colors={"blue": BLUE, "green": GREEN})
    assert router.verify_weights(weights)
    proof = router.last_verification
    assert proof is not None and proof.passed, proof
    found = router.processes()
    assert proof.evidence["processes"]["master"] == found.master == router.pid()
    assert proof.evidence["state"]["generation"] == proof.evidence["generation_on_disk"]
    assert proof.evidence["sample"]["answered_by"] == {GREEN: 10}
    assert set(proof.evidence["sample"]["workers"]) <= set(found.workers)
    assert f"10 of 10 sampled requests answered (10 by {GREEN})" in proof.observed

    split = {BLUE: 50, GREEN: 50}
    router.set_weights(split)
    assert router.verify_weights(split)
    assert router.last_verification is not None
    answered = router.last_verification.evidence["sample"]["answered_by"]
    assert set(answered) <= {BLUE, GREEN} and sum(answered.values()) == 10

    assert not router.verify_weights(weights)  # the config holds other weights: the strategy says so


def test_switches_drop_no_request(router: Router) -> None:
    router.set_weights({BLUE: 100, GREEN: 0}, colors={"blue": BLUE, "green": GREEN})
    statuses: list[int | str] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                try:
                    statuses.append(client.get(f"{router.url}/").status_code)
                except httpx.HTTPError as exc:
                    statuses.append(type(exc).__name__)

    workers = [threading.Thread(target=traffic) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(5):
            router.switch_to(GREEN)
            router.switch_to(BLUE)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=10)
    assert len(statuses) > 50
    assert set(statuses) == {200}, Counter(map(str, statuses))


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({}, "router weights are empty"),
        ({BLUE: 0, GREEN: 0}, "every weight is 0"),
        ({"blue-host": 100}, "expected host:port"),
        ({BLUE: -1}, "must be an integer >= 0"),
    ],
)
def test_bad_weights_are_refused_and_nothing_changes(router: Router, weights: dict[str, int], message: str) -> None:
    router.set_weights({BLUE: 100})
    before = router.upstreams_conf.read_text()
    with pytest.raises(CheckError, match=message):
        router.set_weights(weights)
    assert router.upstreams_conf.read_text() == before
    assert hits(router, 2) == Counter({"blue": 2})
