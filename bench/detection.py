#!/usr/bin/env python3
"""How long from a bad canary's first errors to a FAIL verdict, with Prometheus scraping every second.

    python bench/detection.py [--runs 3] [--intervals 1,5] [--error-ratio 0.2]

A fake service (50 requests/s recorded, 20 ms) is scraped by a real Prometheus every second.
An error-rate analysis (< 1 %, rate window 5 s, measured every INTERVAL seconds) runs against
it; a random moment later the service starts failing (the "1.1.0-errors" canary). The figure is
the time from its first error to the FAIL verdict, against the target of two scrape intervals
plus one analysis interval.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the test helpers: support.*

from support.fake_service import FakeService  # noqa: E402
from support.slo_servers import PrometheusServer  # noqa: E402

from releasegate.checks import slo  # noqa: E402
from releasegate.checks.result import Outcome  # noqa: E402
from releasegate.checks.slo.analysis import Condition, analyse  # noqa: E402
from releasegate.checks.slo.prometheus import PrometheusClient  # noqa: E402

SCRAPE_S = 1.0


def one_run(prometheus: PrometheusServer, service: FakeService, interval_s: float, error_ratio: float) -> float:
    service.error_ratio = 0.0
    service.first_error_at = None
    time.sleep(6)  # the 5 s window forgets earlier errors
    metric = slo.builtin("error_rate", slo.Schema(), "demo-api", success=Condition("<", 0.01), window_s=5,
                         timing=slo.Timing(interval_s=interval_s, count=int(60 / interval_s)))
    threading.Timer(random.uniform(1.0, 1.0 + interval_s), lambda: setattr(service, "error_ratio", error_ratio)).start()
    with PrometheusClient(prometheus.url, 2) as client:
        result = analyse(client, [metric], name="detection", query_timeout_s=2)
    verdict_at = time.time()
    if result.outcome is not Outcome.FAIL or service.first_error_at is None:
        raise RuntimeError(f"expected a FAIL after errors began: {result.summary()}")
    return verdict_at - service.first_error_at


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--intervals", default="1,5")
    parser.add_argument("--error-ratio", type=float, default=0.2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-detection-", dir="/tmp"))
    service = FakeService("1.1.0-errors", latency_s=0.02, synthetic_rps=50).start()
    prometheus = PrometheusServer(work, {"demo-api": [f"127.0.0.1:{service.port}"]}, scrape_interval_s=SCRAPE_S)
    prometheus.start()
    try:
        prometheus.wait_for_series('sum(rate(http_requests_total{service="demo-api"}[5s])) > 0')
        print(f"scrape interval {SCRAPE_S:g}s, rate window 5s, error ratio after the switch {args.error_ratio:.0%}")
        for interval in (float(x) for x in args.intervals.split(",")):
            times = [one_run(prometheus, service, interval, args.error_ratio) for _ in range(args.runs)]
            target = 2 * SCRAPE_S + interval
            print(f"analysis interval {interval:g}s: first error -> FAIL in "
                  f"{', '.join(f'{t:.2f}s' for t in times)} (max {max(times):.2f}s; target <= {target:g}s:"
                  f" {'met' if max(times) <= target else 'MISSED'})")
    finally:
        prometheus.stop()
        service.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
