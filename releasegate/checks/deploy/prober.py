"""A prober: steady requests through the router while a deployment, switch or rollback runs.

    with Prober("http://127.0.0.1:8080/version", rate_per_s=50) as prober:
        strategies.deploy(...)
    result = prober.result          # sent, failed, failure samples, versions seen
    check = prober.result.check("no request failed during the switch")

    with probing(url, rate_per_s=50) as prober:   # the same, settled: at its rate before and after
        ...

Requests are paced by worker threads (enough that answers as slow as the timeout keep the rate)
and sent through the one HTTP client (``checks._support.http``, no retries) with
``Connection: close``, so each opens a new connection: a request counts as failed when the
connection is refused or reset, it times out, or the answer is not 2xx. Every request says it is
synthetic (``User-Agent: releasegate-prober/<version>``, ``X-Releasegate-Synthetic: prober``), so
a service that exports the header as a label lets the SLO queries leave the prober out
(``slo.real_traffic_selector``, docs/slo-and-load.md). The prober is bounded: it
stops by itself after ``max_duration_s`` and keeps at most ``max_samples`` failure samples.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

import httpx

from releasegate.checks._support import http
from releasegate.checks.result import CheckResult

try:
    VERSION = metadata.version("releasegate")
except metadata.PackageNotFoundError:  # a source checkout that was never installed
    VERSION = "0"

SYNTHETIC_HEADER = "X-Releasegate-Synthetic"
"""The header releasegate's own traffic carries: ``prober`` (never real traffic) or ``load`` (a load profile)."""
PROBER_HEADERS = {SYNTHETIC_HEADER: "prober", "User-Agent": f"releasegate-prober/{VERSION}"}

SETTLE_S = 0.5
"""How long ``probing`` runs before the change starts and after it ends."""


@dataclass
class ProbeResult:
    url: str
    sent: int = 0
    failed: int = 0
    duration_s: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def rate_per_s(self) -> float:
        return round(self.sent / self.duration_s, 1) if self.duration_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "sent": self.sent, "failed": self.failed, "duration_s": round(self.duration_s, 3),
                "rate_per_s": self.rate_per_s, "failures": self.failures, "versions": self.versions,
                "statuses": self.statuses}

    def check(self, name: str = "no request failed", min_rate_per_s: float = 0) -> CheckResult:
        """PASS when requests were sent, none failed, and the rate held; INCONCLUSIVE when none were sent."""
        evidence = self.as_dict()
        if self.sent == 0:
            return CheckResult.unknown(name, "the prober sent no request", "0 failed", evidence=evidence)
        observed = f"{self.failed} of {self.sent} failed ({self.rate_per_s}/s over {self.duration_s:.1f}s)"
        if self.failed:
            first = self.failures[0]
            return CheckResult.fail(name, observed, "0 failed", evidence=evidence,
                                    detail=f"first failure at +{first['at_s']}s: {first['error']}")
        if min_rate_per_s and self.rate_per_s < min_rate_per_s:
            return CheckResult.fail(name, observed, f"0 failed at >= {min_rate_per_s:g}/s", evidence=evidence,
                                    detail="the prober could not keep its rate; the figure does not prove much")
        return CheckResult.ok(name, observed, "0 failed", evidence=evidence)


class Prober:
    def __init__(self, url: str, rate_per_s: float = 50, *, timeout_s: float = 2.0, workers: int | None = None,
                 max_duration_s: float = 600, max_samples: int = 20, version_field: str = "version") -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be above 0")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"prober URL must be http(s)://host[:port]/path, got {url!r}")
        self.url = url
        self.rate_per_s = rate_per_s
        self.timeout_s = timeout_s
        # enough workers that answers as slow as the timeout still leave the rate intact
        self.workers = max(1, workers if workers is not None else min(200, math.ceil(rate_per_s * timeout_s) + 2))
        self.max_duration_s = max_duration_s
        self.max_samples = max_samples
        self.version_field = version_field
        self.result = ProbeResult(url)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = 0.0
        self._versions: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()
        self._client: httpx.Client | None = None

    def __enter__(self) -> Prober:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._client = http.client(timeout_s=self.timeout_s, retries=0,
                                   headers={"Connection": "close", **PROBER_HEADERS})
        self._started = time.monotonic()
        interval = self.workers / self.rate_per_s
        for index in range(self.workers):
            thread = threading.Thread(target=self._run, args=(interval, index * interval / self.workers),
                                      name=f"prober-{index}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self) -> ProbeResult:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout_s + 1)
        if self._client is not None:
            self._client.close()
            self._client = None
        with self._lock:
            self.result.duration_s = time.monotonic() - self._started if self._started else 0.0
            self.result.versions = dict(self._versions)
            self.result.statuses = dict(self._statuses)
        return self.result

    def snapshot(self) -> tuple[int, int]:
        with self._lock:
            return self.result.sent, self.result.failed

    def _run(self, interval: float, offset: float) -> None:
        next_at = time.monotonic() + offset
        deadline = self._started + self.max_duration_s
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= deadline:
                return
            if next_at > now and self._stop.wait(next_at - now):
                return
            next_at = max(next_at + interval, time.monotonic() - interval)
            self._probe()

    def _probe(self) -> None:
        started = time.monotonic()
        error: str | None = None
        status = 0
        body = b""
        assert self._client is not None, "start() the prober first"
        try:
            response = self._client.get(self.url)
            status = response.status_code
            body = response.content[:4096]
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except (httpx.HTTPError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
        version = _version(body, self.version_field) if error is None else None
        with self._lock:
            self.result.sent += 1
            self._statuses[str(status or "no answer")] += 1
            if version is not None:
                self._versions[version] += 1
            if error is not None:
                self.result.failed += 1
                if len(self.result.failures) < self.max_samples:
                    self.result.failures.append({"at_s": round(started - self._started, 3), "error": error,
                                                 "elapsed_ms": round((time.monotonic() - started) * 1000, 1)})


def _version(body: bytes, field_name: str) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    value = data.get(field_name) if isinstance(data, dict) else None
    return str(value) if value is not None else None


@contextlib.contextmanager
def probing(url: str, rate_per_s: float = 50, *, version_field: str = "version",
            settle_s: float = SETTLE_S) -> Iterator[Prober]:
    """A prober at its rate ``settle_s`` before the block starts and until ``settle_s`` after it ends."""
    prober = Prober(url, rate_per_s=rate_per_s, version_field=version_field)
    prober.start()
    time.sleep(settle_s)
    try:
        yield prober
    finally:
        time.sleep(settle_s)
        prober.stop()
