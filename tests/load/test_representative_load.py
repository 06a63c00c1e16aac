"""A canary's own traffic (deploy.canary.load): a real Locust run held for as long as the block, labelled as load,
never stopped by a breached threshold (the analysis judges), and its statistics recorded at the end."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from releasegate.checks.result import CheckResult, Outcome
from releasegate.checks.runbook.model import Runbook
from releasegate.load.representative import canary_load, representative_load


class Counting:
    """Answers 500 to /api/items and 200 elsewhere; counts requests by (synthetic header, user agent)."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()
        counting = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with counting.lock:
                    counting.seen[(self.headers.get("X-Releasegate-Synthetic", ""),
                                   self.headers.get("User-Agent", "").split("/")[0])] += 1
                self.send_response(500 if self.path == "/api/items" else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def total(self) -> int:
        with self.lock:
            return sum(self.seen.values())


@pytest.fixture
def counting() -> Iterator[Counting]:
    server = Counting()
    yield server
    server.server.shutdown()


def runbook(url: str) -> Runbook:
    return Runbook.model_validate({
        "name": "t",
        "services": [{"name": "api", "base_url": url}],
        "deploy": {"canary": {"load": "canary"}},
        "load": {"canary": {"service": "api", "wait_min_s": 0.05, "wait_max_s": 0.1,
                            "endpoints": [{"path": "/api/items"}, {"path": "/health"}],
                            "stages": [{"duration_s": 1, "users": 2, "spawn_rate": 10}],
                            "thresholds": {"failure_ratio_max": 0.01, "grace_s": 0.5}}},
    })


def test_the_canary_load_lasts_as_long_as_the_canary_and_is_labelled_load(counting: Counting,
                                                                           tmp_path: Path) -> None:
    recorded: list[CheckResult] = []
    with canary_load(runbook(counting.url), "canary", tmp_path, recorded.append) as run:
        assert run is not None
        time.sleep(3)  # past the 1 s stage and past the grace of the breached failure threshold
        before = counting.total()
        time.sleep(1)
        assert counting.total() > before, "the load stopped before the canary ended"
        assert not recorded
    assert len(recorded) == 1
    check = recorded[0]
    assert check.name == 'load profile "canary" during the canary'
    # half the requests fail: the load says so, but it kept running and stopped only when asked
    assert check.outcome is Outcome.FAIL and "stopped early: the canary ended" in check.detail
    assert check.evidence["aborted"] is None
    assert set(counting.seen) == {("load", "releasegate-load")}
    settled = counting.total()
    time.sleep(1)
    assert counting.total() == settled, "the load kept running after the canary"


def test_no_load_for_other_strategies_or_without_a_profile(counting: Counting, tmp_path: Path) -> None:
    recorded: list[CheckResult] = []
    with canary_load(runbook(counting.url), "blue-green", tmp_path, recorded.append) as run:
        assert run is None
    with representative_load(runbook(counting.url), None, tmp_path, recorded.append, purpose="watch") as run:
        assert run is None
    assert not recorded and counting.total() == 0


def test_a_profile_that_cannot_run_is_recorded_inconclusive(tmp_path: Path) -> None:
    book = Runbook.model_validate({
        "name": "t",
        "services": [{"name": "a", "base_url": "http://127.0.0.1:1"}, {"name": "b", "base_url": "http://127.0.0.1:2"}],
        "load": {"p": {"endpoints": [{"path": "/"}], "stages": [{"duration_s": 1, "users": 1}]}},
    })
    recorded: list[CheckResult] = []
    with representative_load(book, "p", tmp_path, recorded.append, purpose="canary") as run:
        assert run is None
    assert [r.outcome for r in recorded] == [Outcome.INCONCLUSIVE]
    assert "set host or service" in recorded[0].detail
