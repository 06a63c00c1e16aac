#!/usr/bin/env python3
"""Does our load stage cost request rate? Ours vs plain `locust --headless` vs wrk, on a static nginx endpoint.

    python bench/load_overhead.py [--seconds 10] [--users 10] [--repeat 3] [--url http://127.0.0.1:PORT --path /health]

Prints requests/s for: plain locust (one process), our stage with workers 0 (one process),
1 worker (master + 1 worker process) and 2 workers, and wrk (the ceiling) when installed.
With --url the target is that service (e.g. a demo container) instead of a static nginx file.
The rate of every Locust run is num_requests / (last request - start) of the "Aggregated" line
of Locust's JSON statistics, so ramp-up and shutdown count the same way for every run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the test helpers: support.*

from support.slo_servers import NginxServer  # noqa: E402

from releasegate.checks.runbook.model import LoadProfile  # noqa: E402
from releasegate.load.runner import LoadRun  # noqa: E402


def rate(stats_json: Path) -> tuple[float, int]:
    entries = json.loads(stats_json.read_text())
    requests = sum(e["num_requests"] for e in entries)
    start = min(e["start_time"] for e in entries)
    last = max(e["last_request_timestamp"] for e in entries if e["last_request_timestamp"])
    return requests / (last - start), requests


def plain_locust(url: str, seconds: float, users: int, out: Path, path: str, workers: int = 0) -> tuple[float, int]:
    """Plain `locust --headless` on the bench user class; with workers, a plain master and N plain workers."""
    out.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "plain_locustfile.py")]
    env = {**os.environ, "BENCH_PATH": path}
    master = [*base, "--headless", "-u", str(users), "-r", str(users * 10), "-t", f"{int(seconds)}s", "--host", url,
              "--only-summary", "--json-file", str(out / "stats"), "--exit-code-on-error", "0", "--loglevel",
              "WARNING"]
    if not workers:
        subprocess.run(master, check=True, capture_output=True, env=env)
        return rate(out / "stats.json")
    port = str(19250 + workers)
    master += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--expect-workers",
               str(workers)]
    started = [subprocess.Popen(master, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)]
    started += [subprocess.Popen([*base, "--worker", "--master-host", "127.0.0.1", "--master-port", port],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
                for _ in range(workers)]
    for process in started:
        process.wait(seconds + 60)
    return rate(out / "stats.json")


def our_stage(url: str, seconds: float, users: int, workers: int, out: Path, path: str) -> tuple[float, int, str]:
    profile = LoadProfile.model_validate({
        "endpoints": [{"path": path, "name": f"GET {path}"}],
        "stages": [{"duration_s": seconds, "users": users, "spawn_rate": users * 10}],
        "thresholds": {"failure_ratio_max": 0.01, "grace_s": 1},
        "workers": workers,
        "user_class": "fast",
    })
    result = LoadRun(profile, url, out, name="bench").start().wait()
    rps, requests = rate(result.files["stats_json"])
    return rps, requests, result.check.outcome.value


def wrk(url: str, seconds: float, connections: int, path: str) -> float | None:
    if shutil.which("wrk") is None:
        return None
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{int(seconds)}s", url + path],
                         check=True, capture_output=True, text=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--url", help="load this service instead of a static nginx file")
    parser.add_argument("--path", default="/")
    parser.add_argument("--repeat", type=int, default=1, help="run every configuration N times, keep the best")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-load-", dir="/tmp"))
    work.chmod(0o755)  # nginx workers (nobody) must reach the files
    nginx = None if args.url else NginxServer(work / "nginx", worker_processes=1).start()
    url = args.url or (nginx.url if nginx else "")
    path = args.path
    try:
        what = "service" if args.url else "nginx, 1 worker process"
        print(f"target: {url}{path} ({what}), {args.users} users, {args.seconds:g}s per run,"
              f" machine: {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores,"
              f" load average {os.getloadavg()[0]:.1f}")
        plain, plain_n = max(plain_locust(url, args.seconds, args.users, work / "plain", path)
                             for _ in range(args.repeat))
        print(f"plain locust --headless (1 process)      {plain:10.0f} requests/s  ({plain_n} requests)")
        plain_rows = {0: plain}
        for workers in (1, 2):
            time.sleep(1)
            rps, n = max(plain_locust(url, args.seconds, args.users, work / f"plain-{workers}", path, workers)
                         for _ in range(args.repeat))
            plain_rows[workers] = rps
            print(f"{f'plain locust, master + {workers} worker(s)':40} {rps:10.0f} requests/s  ({n} requests)")
        rows = {}
        for workers in (0, 1, 2):
            time.sleep(1)
            rps, n, outcome = max(our_stage(url, args.seconds, args.users, workers, work / f"ours-{workers}", path)
                                  for _ in range(args.repeat))
            rows[workers] = rps
            label = {0: "our stage, workers: 0 (1 process)", 1: "our stage, workers: 1 (master + 1)",
                     2: "our stage, workers: 2 (master + 2)"}[workers]
            print(f"{label:40} {rps:10.0f} requests/s  ({n} requests, verdict {outcome})")
        ceiling = wrk(url, min(args.seconds, 5), 50, path)
        if ceiling is not None:
            print(f"{'wrk -t2 -c50 (ceiling)':40} {ceiling:10.0f} requests/s"
                  f"   best of ours / wrk: {max(rows.values()) / ceiling:.2f}")
        print(f"ours / plain, same layout: 1 process {rows[0] / plain_rows[0]:.2f}, master + 1"
              f" {rows[1] / plain_rows[1]:.2f}, master + 2 {rows[2] / plain_rows[2]:.2f};"
              f" ours workers 1 / plain 1 process {rows[1] / plain:.2f}; ours workers 2 / workers 1"
              f" {rows[2] / rows[1]:.2f}")
    finally:
        if nginx is not None:
            nginx.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
