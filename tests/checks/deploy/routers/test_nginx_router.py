"""The nginx Router (releasegate/checks/deploy/routers/nginx.py) with a real nginx in front of two tiny HTTP servers."""

from __future__ import annotations

import http.server
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from releasegate.checks.deploy.routers.nginx import Router
from releasegate.checks.errors import CheckError

LISTEN = "127.0.0.1:18040"
BLUE, GREEN = "127.0.0.1:18041", "127.0.0.1:18042"


def _server(address: str, name: str) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive connections

        def do_GET(self) -> None:
            body = name.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    host, port = address.split(":")
    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def backends() -> Iterator[None]:
    servers = [_server(BLUE, "blue"), _server(GREEN, "green")]
    yield
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def router(tmp_path: Path, backends: None) -> Iterator[Router]:
    r = Router(root=tmp_path / "nginx", listen=LISTEN)
    r.start()
    yield r
    r.stop()
    assert not r.running()


def _hits(router: Router, n: int, headers: dict[str, str] | None = None) -> Counter[str]:
    with httpx.Client(timeout=5) as client:
        return Counter(client.get(f"{router.url}/", headers=headers).text for _ in range(n))


def test_weights_are_written_read_back_and_served(router: Router) -> None:
    assert router.set_weights({BLUE: 100, GREEN: 0}, colors={"blue": BLUE, "green": GREEN}) == {BLUE: 100, GREEN: 0}
    assert _hits(router, 10) == Counter({"blue": 10})
    assert router.colors() == {"blue": BLUE, "green": GREEN}
    assert _hits(router, 3, {"X-Releasegate-Color": "green"}) == Counter({"green": 3})

    assert router.set_weights({BLUE: 75, GREEN: 25}) == {BLUE: 75, GREEN: 25}
    assert _hits(router, 100) == Counter({"blue": 75, "green": 25})  # nginx's smooth weighted round robin
    assert router.colors() == {"blue": BLUE, "green": GREEN}

    assert router.switch_to(GREEN) == {BLUE: 0, GREEN: 100}
    assert _hits(router, 10) == Counter({"green": 10})
    state = router.state()
    assert state["weights"] == {BLUE: 0, GREEN: 100}

    restarted = Router(root=router.root, listen=LISTEN)  # a new process reads the state back from the config
    assert restarted.weights() == {BLUE: 0, GREEN: 100}


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
    assert _hits(router, 2) == Counter({"blue": 2})
