"""Blue-green switch and switch-back times, and time from a critical failure to the previous version serving.

    python bench/switch.py                 # demo images must exist (scripts/setup builds them)
    python bench/switch.py --json

On a real Docker engine with the demo images behind a real nginx router (checks.deploy.routers.nginx on
its own port), while a prober sends requests through the router:

1. blue-green 1.0.0 -> 1.1.0: the router switch time and failed requests; then the switch-back.
   Targets: each switch under 2 s, 0 failed requests.
2. time from a critical failure to the previous version serving: 1.1.0-slow is deployed
   (blue-green, then rolling with two instances); a real critical check fails on it (the median
   response time through the router above 1000 ms); from the moment its verdict is known, the
   strategy's undo runs and the router is polled until every answer comes from 1.0.0.
   Targets: blue-green under 5 s, rolling (two instances) under 30 s.

Uses ports 18160-18169 for the instances and 18210 for the router; removes its containers after.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from releasegate.checks._support.http import get_json  # noqa: E402
from releasegate.checks.deploy import strategies  # noqa: E402
from releasegate.checks.deploy.prober import Prober  # noqa: E402
from releasegate.checks.deploy.routers.nginx import Router  # noqa: E402
from releasegate.checks.deploy.targets.docker import DockerTarget  # noqa: E402
from releasegate.checks.preflight import http  # noqa: E402
from releasegate.checks.runbook.model import Service  # noqa: E402
from releasegate.checks.runbook.model import Target as TargetSpec  # noqa: E402
from releasegate.checks.runbook.options import DockerOptions  # noqa: E402

SERVICE = "demo-api"


def version_through(router: Router) -> str | None:
    body = get_json(f"{router.url}/version", timeout_s=5)
    return str(body["version"]) if isinstance(body, dict) and "version" in body else None


def wait_all_answers(router: Router, version: str, timeout_s: float = 60, in_a_row: int = 10) -> float:
    """Poll until ``in_a_row`` consecutive answers come from ``version``; returns when the streak began."""
    deadline = time.monotonic() + timeout_s
    streak_start: float | None = None
    streak = 0
    while time.monotonic() < deadline:
        now = time.monotonic()
        if version_through(router) == version:
            streak_start = streak_start or now
            streak += 1
            if streak >= in_a_row:
                return streak_start
        else:
            streak, streak_start = 0, None
        time.sleep(0.02)
    raise SystemExit(f"bench: {version} was not serving through {router.url} within {timeout_s:g}s")


def make_target(instances: int, base_port: int) -> DockerTarget:
    spec = TargetSpec(name="bench", kind="docker", options=DockerOptions(
        project=f"rgbench{instances}", ports={SERVICE: list(range(base_port, base_port + 2 * instances))},
        health_timeout_s=60, stop_timeout_s=3))
    return DockerTarget(spec, [Service(name=SERVICE, base_url="http://127.0.0.1:18210", image="releasegate-demo",
                                       instances=instances, readiness=None)])


def cleanup(target: DockerTarget) -> None:
    for slot in target.slots(SERVICE):
        target.stop(SERVICE, slot)


def settings(router: Router) -> dict[str, Any]:
    return {"kind": "nginx", "root": str(router.root), "listen": router.listen}


def must(deployment: strategies.Deployment) -> strategies.Deployment:
    if not deployment.passed:
        raise SystemExit(f"bench: {deployment.result.summary()}")
    return deployment


def bench_switch(router: Router, rate: float) -> dict[str, Any]:
    target = make_target(1, 18160)
    try:
        must(strategies.deploy(target, SERVICE, "1.0.0", "recreate", router=router, router_settings=settings(router)))
        with Prober(f"{router.url}/version", rate_per_s=rate) as switch_probe:
            deployment = must(strategies.deploy(target, SERVICE, "1.1.0", "blue-green", router=router,
                                                router_settings=settings(router)))
            time.sleep(0.5)
        with Prober(f"{router.url}/version", rate_per_s=rate) as back_probe:
            back = strategies.rollback(deployment.record)
            time.sleep(0.5)
        if not back.passed:
            raise SystemExit(f"bench: {back.summary()}")
        return {
            "switch_s": deployment.record.switch_s, "switch": switch_probe.result.as_dict(),
            "switch_back_s": back.evidence["switch_s"], "switch_back": back_probe.result.as_dict(),
        }
    finally:
        cleanup(target)


def bench_failure_to_previous(router: Router, strategy: str, instances: int, base_port: int,
                              rate: float) -> dict[str, Any]:
    target = make_target(instances, base_port)
    try:
        must(strategies.deploy(target, SERVICE, "1.0.0", "recreate", router=router, router_settings=settings(router)))
        deployment = must(strategies.deploy(target, SERVICE, "1.1.0-slow", strategy, router=router,
                                            router_settings=settings(router)))
        with Prober(f"{router.url}/health", rate_per_s=rate, timeout_s=5) as probe:
            critical = http.check_response_time(f"{router.url}/version", 1000, samples=3, timeout_s=5)
            failed_at = time.monotonic()
            if critical.passed:
                raise SystemExit(f"bench: the critical check did not fail on 1.1.0-slow: {critical.summary()}")
            undone = strategies.rollback(deployment.record)
            if not undone.passed:
                raise SystemExit(f"bench: {undone.summary()}")
            serving_at = wait_all_answers(router, "1.0.0")
        return {"strategy": strategy, "instances": instances, "critical_check": critical.summary(),
                "failure_to_previous_s": round(serving_at - failed_at, 3), "probe": probe.result.as_dict()}
    finally:
        cleanup(target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--rate", type=float, default=50, help="prober requests per second (default 50)")
    args = parser.parse_args()
    root = Path("/tmp/releasegate-targets/bench-nginx")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    router = Router(root=root, listen="127.0.0.1:18210")
    router.start()
    try:
        switch = bench_switch(router, args.rate)
        blue_green = bench_failure_to_previous(router, "blue-green", 1, 18160, args.rate)
        rolling = bench_failure_to_previous(router, "rolling", 2, 18164, args.rate)
    finally:
        router.stop()
    figures = {"switch": switch, "failure_to_previous": [blue_green, rolling]}
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    rows = [
        ("blue-green switch", f"{switch['switch_s']:.3f} s", "< 2 s", switch["switch"]),
        ("blue-green switch-back", f"{switch['switch_back_s']:.3f} s", "< 2 s", switch["switch_back"]),
        ("critical failure -> previous serving, blue-green", f"{blue_green['failure_to_previous_s']:.3f} s", "< 5 s",
         blue_green["probe"]),
        ("critical failure -> previous serving, rolling x2", f"{rolling['failure_to_previous_s']:.3f} s", "< 30 s",
         rolling["probe"]),
    ]
    print(f"{'measure':50} {'time':>10} {'target':>8}  requests (prober through the router)")
    for label, value, target, probe in rows:
        print(f"{label:50} {value:>10} {target:>8}  {probe['sent']} sent at {probe['rate_per_s']}/s,"
              f" {probe['failed']} failed")
    ok = (switch["switch_s"] < 2 and switch["switch_back_s"] < 2 and switch["switch"]["failed"] == 0
          and switch["switch_back"]["failed"] == 0 and blue_green["failure_to_previous_s"] < 5
          and rolling["failure_to_previous_s"] < 30)
    print("all targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
