"""A stdlib HTTP(S) server on 127.0.0.1 whose answers the tests set while it runs."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    status: int = 200
    body: Any = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    unavailable_first: int = 0  # answer 503 to this many requests before the real answer


@dataclass
class Behaviour:
    """What the test server answers; tests change it while the server runs."""

    routes: dict[str, Route] = field(default_factory=dict)
    cors_origins: list[str] = field(default_factory=list)
    cors_methods: str = "GET, POST, OPTIONS"
    headers: dict[str, str] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    behaviour: Behaviour

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in {**self.behaviour.headers, **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        behaviour = self.behaviour
        behaviour.hits[self.path] = behaviour.hits.get(self.path, 0) + 1
        route = behaviour.routes.get(self.path)
        if route is None:
            self._send(404, b'{"detail": "not found"}', {"Content-Type": "application/json"})
            return
        if behaviour.hits[self.path] <= route.unavailable_first:
            self._send(503, b'{"status": "starting"}', {"Content-Type": "application/json"})
            return
        if route.delay_s:
            time.sleep(route.delay_s)
        if isinstance(route.body, (dict, list)):
            body, kind = json.dumps(route.body).encode(), "application/json"
        else:
            body, kind = str(route.body).encode(), "text/plain"
        self._send(route.status, body, {"Content-Type": kind, **route.headers})

    def do_OPTIONS(self) -> None:
        origin = self.headers.get("Origin")
        headers: dict[str, str] = {"Vary": "Origin"}
        if origin and (origin in self.behaviour.cors_origins or "*" in self.behaviour.cors_origins):
            headers["Access-Control-Allow-Origin"] = "*" if "*" in self.behaviour.cors_origins else origin
            headers["Access-Control-Allow-Methods"] = self.behaviour.cors_methods
            self._send(204, b"", headers)
            return
        self._send(400 if origin else 405, b"", headers)


@dataclass
class RunningServer:
    url: str
    behaviour: Behaviour
    port: int


def serve(behaviour: Behaviour, context: ssl.SSLContext | None = None) -> Iterator[RunningServer]:
    handler = type("Handler", (_Handler,), {"behaviour": behaviour})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield RunningServer(f"{'https' if context else 'http'}://127.0.0.1:{port}", behaviour, port)
    finally:
        server.shutdown()
        server.server_close()
