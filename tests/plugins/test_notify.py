"""Webhook notifications at start, rollback and finish; a dead webhook never delays a rollback."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from support.release_project import RUNBOOK, Release, feature

from releasegate.checks.run.notify import Notifier


class Receiver:
    def __init__(self, failures: int = 0, delay_s: float = 0.0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.calls = 0
        self.failures = failures
        self.delay_s = delay_s
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.calls += 1
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(receiver.delay_s)
                if receiver.calls <= receiver.failures:
                    with contextlib.suppress(OSError):
                        self.send_response(500)
                        self.end_headers()
                    return
                receiver.bodies.append(body)
                with contextlib.suppress(OSError):  # the client may have given up already
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_notifier_retries_then_delivers() -> None:
    server = Receiver(failures=2)
    try:
        notifier = Notifier(server.url, timeout_s=2, retries=2)
        delivery = notifier.send("hello")
        assert delivery is not None and notifier.wait(10)
        assert delivery.delivered and delivery.attempts == 3
        assert server.bodies == [{"text": "hello"}]
    finally:
        server.close()


def test_notifier_gives_up_after_bounded_retries_without_blocking_the_caller() -> None:
    server = Receiver(failures=100)
    try:
        notifier = Notifier(server.url, timeout_s=0.5, retries=1)
        started = time.monotonic()
        delivery = notifier.send("hello")
        assert time.monotonic() - started < 0.1
        assert notifier.wait(5)
        assert delivery is not None and not delivery.delivered
        assert (delivery.attempts, delivery.error) == (2, "HTTP 500")
    finally:
        server.close()


def test_release_notifies_start_rollback_and_finish(release: Callable[..., Release], receiver: Receiver) -> None:
    runbook = RUNBOOK + f"notifications:\n  webhook_url: {receiver.url}\n  channel: '#deployments'\n"
    project = release(feature('deploy health" fails'), runbook=runbook)
    result = project.pytester.runpytest("features/release.feature", "--env", "local", "-p", "no:cacheprovider")
    assert result.ret == 1
    texts = sorted(body["text"] for body in receiver.bodies)
    assert len(texts) == 3, texts
    assert any(t.startswith("releasegate: release 1.0.0 -> 1.1.0 to local started") for t in texts)
    assert any(t.startswith("releasegate: ROLLING BACK local 1.1.0 -> 1.0.0: critical failure in") for t in texts)
    assert any(t.startswith("releasegate: local 1.0.0 -> 1.1.0: ROLLED BACK") for t in texts)
    assert all(body["channel"] == "#deployments" for body in receiver.bodies)
    assert all(e["delivered"] for e in project.events("notification"))
    # the webhook URL is a secret (it carries the token): never in the journal or the sign-off
    assert receiver.url not in project.journal().path.read_text()


def test_a_hanging_webhook_does_not_delay_the_rollback(release: Callable[..., Release]) -> None:
    slow = Receiver(delay_s=3)
    try:
        runbook = RUNBOOK + f"notifications:\n  webhook_url: {slow.url}\n  timeout_s: 0.5\n  retries: 1\n"
        project = release(feature('deploy health" fails'), runbook=runbook)
        started = time.monotonic()
        result = project.pytester.runpytest("features/release.feature", "--env", "local", "-p", "no:cacheprovider")
        elapsed = time.monotonic() - started
        assert result.ret == 1
        failed = project.events("check_failed")[0]["ts"]
        first_action = project.events("rollback_action_started")[0]["ts"]
        assert first_action - failed < 0.5
        assert elapsed < 10
        assert not any(e["delivered"] for e in project.events("notification"))
    finally:
        slow.close()


def test_a_run_stopped_at_a_collection_error_notifies_nobody(release: Callable[..., Release],
                                                            receiver: Receiver) -> None:
    runbook = RUNBOOK + f"notifications:\n  webhook_url: {receiver.url}\n"
    project = release(feature().replace('Then the fake check "smoke" passes', 'Then the fake chek "smoke" passes'),
                      runbook=runbook)
    result = project.pytester.runpytest("features/release.feature", "--env", "local", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()
    time.sleep(0.5)  # a message would be sent in its own thread
    assert receiver.bodies == []
