"""A service that exports http_requests_total and http_request_duration_seconds, with controllable faults.

Real requests to any path other than /metrics and /control are answered (with status 500 for
the set share of them, after the set latency) and counted. For analysis tests that do not want
to spend CPU on HTTP, ``synthetic_rps`` makes a background thread record that many requests a
second with the same error ratio and latency, as if they had been served.

    service = FakeService(version="1.1.0").start()
    service.error_ratio = 0.5      # from now on every second request fails
    service.url                    # http://127.0.0.1:PORT
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, version: str) -> None:
        self.version = version
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], float] = {}
        self.buckets: dict[tuple[str, str], list[float]] = {}
        self.sums: dict[tuple[str, str], float] = {}
        self.counts: dict[tuple[str, str], float] = {}

    def observe(self, method: str, path: str, status: int, seconds: float, n: float = 1) -> None:
        with self.lock:
            key = (method, path, str(status))
            self.requests[key] = self.requests.get(key, 0) + n
            hkey = (method, path)
            counts = self.buckets.setdefault(hkey, [0.0] * len(BUCKETS))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += n
            self.sums[hkey] = self.sums.get(hkey, 0) + seconds * n
            self.counts[hkey] = self.counts.get(hkey, 0) + n

    def render(self) -> str:
        v = self.version
        lines = ["# TYPE http_requests_total counter"]
        with self.lock:
            for (method, path, status), value in sorted(self.requests.items()):
                labels = f'method="{method}",path="{path}",status="{status}",version="{v}"'
                lines.append(f"http_requests_total{{{labels}}} {value:g}")
            lines.append("# TYPE http_request_duration_seconds histogram")
            for (method, path), counts in sorted(self.buckets.items()):
                base = f'method="{method}",path="{path}",version="{v}"'
                for bound, count in zip(BUCKETS, counts, strict=True):
                    lines.append(f'http_request_duration_seconds_bucket{{{base},le="{bound:g}"}} {count:g}')
                total = self.counts[(method, path)]
                lines.append(f'http_request_duration_seconds_bucket{{{base},le="+Inf"}} {total:g}')
                lines.append(f"http_request_duration_seconds_sum{{{base}}} {self.sums[(method, path)]:g}")
                lines.append(f"http_request_duration_seconds_count{{{base}}} {total:g}")
        return "\n".join(lines) + "\n"


class FakeService:
    def __init__(self, version: str = "1.0.0", *, error_ratio: float = 0.0, latency_s: float = 0.0,
                 synthetic_rps: float = 0.0, port: int = 0) -> None:
        self.version = version
        self.error_ratio = error_ratio
        self.latency_s = latency_s
        self.synthetic_rps = synthetic_rps
        self.metrics = Metrics(version)
        self.first_error_at: float | None = None
        self._error_credit = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeService:
        serve = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        tick = threading.Thread(target=self._synthesise, daemon=True)
        self._threads = [serve, tick]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def next_status(self) -> int:
        """500 for the set share of requests, spread evenly (deterministic, not random)."""
        with self._lock:
            self._error_credit += self.error_ratio
            if self._error_credit >= 1:
                self._error_credit -= 1
                if self.first_error_at is None:
                    self.first_error_at = time.time()
                return 500
            return 200

    def _synthesise(self) -> None:
        step = 0.1
        carry = 0.0
        last = time.monotonic()
        while not self._stop.wait(step):
            now = time.monotonic()
            carry += self.synthetic_rps * (now - last)  # by the clock, so a busy machine does not lower the rate
            last = now
            n = int(carry)
            carry -= n
            if not n:
                continue
            errors = 0
            for _ in range(n):
                errors += self.next_status() == 500
            if n - errors:
                self.metrics.observe("GET", "/api/items", 200, self.latency_s, n - errors)
            if errors:
                self.metrics.observe("GET", "/api/items", 500, self.latency_s, errors)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, kind: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/metrics":
                    self._send(200, service.metrics.render().encode(), "text/plain; version=0.0.4")
                    return
                if url.path == "/control":
                    for key, values in parse_qs(url.query).items():
                        if key in ("error_ratio", "latency_s", "synthetic_rps"):
                            setattr(service, key, float(values[-1]))
                    self._send(200, b"ok\n")
                    return
                started = time.perf_counter()
                if service.latency_s:
                    time.sleep(service.latency_s)
                status = service.next_status()
                self._send(status, b'{"ok": true}\n' if status == 200 else b'{"error": "injected"}\n',
                           "application/json")
                service.metrics.observe("GET", url.path, status, time.perf_counter() - started)

            do_POST = do_GET

        return Handler
