"""Backends and addresses of the nginx router tests: two tiny HTTP servers that answer with their name.

Ports depend on the xdist worker (``support.ports``): the router listens at the top of the
worker's router range (18200-18209 or 18210-18219), the backends at the top of its instance range,
where the Docker tests' reservations (which take the lowest free ports) do not reach.
"""

from __future__ import annotations

import http.server
import threading
from collections import Counter

import httpx

from releasegate.checks.deploy.routers.nginx import Router
from support.ports import worker_index

_ROUTERS = 18200 + 10 * worker_index()
_INSTANCES = 18100 + 32 * worker_index()
LISTEN = f"127.0.0.1:{_ROUTERS + 9}"
SECOND_LISTEN = f"127.0.0.1:{_ROUTERS + 8}"
BLUE, GREEN = f"127.0.0.1:{_INSTANCES + 30}", f"127.0.0.1:{_INSTANCES + 31}"
DEAD = f"127.0.0.1:{_INSTANCES + 29}"
"""Nothing listens there."""


def server(address: str, name: str) -> http.server.ThreadingHTTPServer:
    """A server on ``address`` answering every GET with ``name``, in a daemon thread."""

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

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 64  # the default 5 drops SYNs of a burst, which then wait 1 s to be resent

    host, port = address.split(":")
    started = Server((host, int(port)), Handler)
    threading.Thread(target=started.serve_forever, daemon=True).start()
    return started


def hits(router: Router, n: int, headers: dict[str, str] | None = None) -> Counter[str]:
    """Which backend answered each of ``n`` requests through the router."""
    with httpx.Client(timeout=5) as client:
        return Counter(client.get(f"{router.url}/", headers=headers).text for _ in range(n))
