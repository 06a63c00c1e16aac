"""Locust users and stages built from a runbook load profile (run by load/runner.py, never imported by pytest).

The profile is a JSON file named by RELEASEGATE_LOAD_PROFILE (written by ``load.runner``):

    {"host": "...", "user_class": "fast"|"http", "wait_min_s": 0, "wait_max_s": 0,
     "endpoints": [{"path", "method", "weight", "name", "json_body"}],
     "stages": [{"duration_s", "users", "spawn_rate"}],
     "thresholds": {"failure_ratio_max", "p95_ms_max", "min_rps", "grace_s"},
     "stages_out": "/path/stages.json", "headers": {"X-Releasegate-Synthetic": "load", ...},
     "hold_s": 0, "abort_on_breach": true}

Every request carries ``headers`` (``load.runner``: ``X-Releasegate-Synthetic: load`` and a
``releasegate-load/<version>`` user agent), so the service can tell load traffic from the prober's
and from its users'. ``hold_s`` keeps the last stage running that much longer (a load that lasts
as long as the analysis it serves, stopped through ``stop_file``); with ``abort_on_breach`` false a
breached threshold is reported, never a reason to stop the traffic an analysis is judging.

The master (or the single local runner) watches the statistics of the current stage every half
second; once ``grace_s`` of a stage has gone by, a breached failure-ratio or p95 threshold stops
the run and the reason is written to ``stages_out`` with each stage's counts and response-time
histogram (``load.stats``), which ``load.runner`` turns into the verdict.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import locust.runners
from locust import FastHttpUser, HttpUser, LoadTestShape, between, constant, events
from locust.env import Environment
from locust.event import EventHook
from locust.runners import WorkerRunner

from releasegate.load.stats import StageRecord, breaches, stage_figures

# Workers report to the master every 3 s by default; a stage of 10 s needs finer counts.
locust.runners.WORKER_REPORT_INTERVAL = 1.0
CHECK_EVERY_S = 0.5

PROFILE: dict[str, Any] = json.loads(Path(os.environ["RELEASEGATE_LOAD_PROFILE"]).read_text())
STAGES: list[dict[str, Any]] = PROFILE["stages"]
ENDS: list[float] = [sum(float(s["duration_s"]) for s in STAGES[: i + 1]) for i in range(len(STAGES))]
ENDS[-1] += float(PROFILE.get("hold_s", 0))
HEADERS: dict[str, str] = {str(k): str(v) for k, v in (PROFILE.get("headers") or {}).items()}
ABORT_ON_BREACH = bool(PROFILE.get("abort_on_breach", True))


def _task(endpoint: dict[str, Any]) -> Any:
    method = str(endpoint.get("method", "GET")).upper()
    path = str(endpoint["path"])
    name = endpoint.get("name") or f"{method} {path}"
    body = endpoint.get("json_body")

    def request(user: Any) -> None:
        if body is None:
            user.client.request(method, path, name=name, headers=HEADERS)
        else:
            user.client.request(method, path, name=name, json=body, headers=HEADERS)

    request.__name__ = f"request_{name}"
    return request


_base: type = FastHttpUser if PROFILE.get("user_class", "fast") == "fast" else HttpUser
_wait_min, _wait_max = float(PROFILE.get("wait_min_s", 0)), float(PROFILE.get("wait_max_s", 0))
ReleaseUser = type(
    "ReleaseUser",
    (_base,),
    {
        "host": PROFILE["host"],
        "tasks": {_task(e): int(e.get("weight", 1)) for e in PROFILE["endpoints"]},
        "wait_time": between(_wait_min, _wait_max) if _wait_max > 0 else constant(_wait_min),
        "__module__": __name__,
    },
)


class ProfileStages(LoadTestShape):
    """The runbook's stages, one after the other; None (stop) after the last."""

    def tick(self) -> tuple[int, float] | None:
        run_time = float(self.get_run_time())  # type: ignore[no-untyped-call]  # not annotated in Locust
        for stage, end in zip(STAGES, ENDS, strict=True):
            if run_time < end:
                return int(stage["users"]), float(stage["spawn_rate"])
        return None


class StageWatch:
    """Snapshots of the total statistics at stage boundaries; stops the run on a breached threshold."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.records: list[StageRecord] = []
        self.aborted: dict[str, Any] | None = None
        self.stopped: str | None = None
        self.started = time.monotonic()
        self.current = -1
        self._start_snapshot: dict[str, Any] = {}
        self._steady_snapshot: dict[str, Any] | None = None
        self.written = False

    def snapshot(self) -> dict[str, Any]:
        total = self.environment.stats.total
        return {
            "t": time.monotonic() - self.started,
            "requests": total.num_requests,
            "failures": total.num_failures,
            "response_times": dict(total.response_times),
        }

    def run(self) -> None:
        stop_file = Path(PROFILE["stop_file"]) if PROFILE.get("stop_file") else None
        while True:
            gevent.sleep(CHECK_EVERY_S)
            if stop_file is not None and stop_file.is_file():
                self.stopped = stop_file.read_text().strip() or "stop requested"
                self.step(final=True)
                if self.environment.runner is not None:
                    self.environment.runner.quit()
                return
            self.step()
            if self.current >= len(STAGES) or self.aborted:
                return

    def step(self, final: bool = False) -> None:
        now = time.monotonic() - self.started
        # the last stage ends when the run stops (test_stop), so late worker reports still count
        index = len(STAGES) if final else next((i for i, end in enumerate(ENDS) if now < end), len(STAGES) - 1)
        if index != self.current:
            snap = self.snapshot()
            if self.current >= 0:
                self.records.append(self._record(self.current, snap))
            self.current = index
            self._start_snapshot, self._steady_snapshot = snap, None
            if index >= len(STAGES):
                self.write()
                return
        stage_started = self._start_snapshot["t"]
        grace = float(PROFILE["thresholds"].get("grace_s", 5))
        if self._steady_snapshot is None and now - stage_started >= grace:
            self._steady_snapshot = self.snapshot()
        if self._steady_snapshot is not None and not self.aborted and ABORT_ON_BREACH:
            record = self._record(self.current, self.snapshot())
            found = breaches(stage_figures(record), PROFILE["thresholds"], final=False)
            if found:
                self.aborted = {"stage": self.current, "at_s": round(now, 2), "reason": "; ".join(found)}
                self.records.append(record)
                self.current = len(STAGES)
                self.write()
                runner = self.environment.runner
                if runner is not None:
                    runner.quit()

    def _record(self, index: int, end: dict[str, Any]) -> StageRecord:
        start = self._start_snapshot
        steady = self._steady_snapshot or start
        histogram = {
            str(ms): count - start["response_times"].get(ms, 0)
            for ms, count in end["response_times"].items()
            if count - start["response_times"].get(ms, 0) > 0
        }
        return StageRecord(
            index=index,
            users=int(STAGES[index]["users"]),
            planned_s=float(STAGES[index]["duration_s"]),
            started_s=round(start["t"], 3),
            ended_s=round(end["t"], 3),
            steady_from_s=round(steady["t"], 3),
            requests=end["requests"] - start["requests"],
            failures=end["failures"] - start["failures"],
            steady_requests=end["requests"] - steady["requests"],
            response_times_ms=histogram,
        )

    def write(self) -> None:
        out = PROFILE.get("stages_out")
        if not out:
            return
        data = {"stages": [r.as_dict() for r in self.records], "aborted": self.aborted, "stopped": self.stopped}
        Path(out).write_text(json.dumps(data, indent=2))
        self.written = True


_watch: StageWatch | None = None


def _on(hook: EventHook, listener: Callable[..., None]) -> None:
    hook.add_listener(listener)  # type: ignore[no-untyped-call]  # EventHook is not annotated in Locust


def _start_watch(environment: Environment, **_: Any) -> None:
    global _watch
    if isinstance(environment.runner, WorkerRunner) or _watch is not None:
        return
    _watch = StageWatch(environment)
    gevent.spawn(_watch.run)
    started_out = PROFILE.get("started_out")
    if started_out:
        Path(started_out).write_text(json.dumps({"started_at": time.time()}))


def _final_snapshot(environment: Environment, **_: Any) -> None:
    if _watch is not None and _watch.current < len(STAGES) and not _watch.aborted:
        _watch.step(final=True)


def _exit_code(environment: Environment, **_: Any) -> None:
    if _watch is not None and _watch.aborted:
        environment.process_exit_code = 3


_on(events.test_start, _start_watch)
_on(events.test_stop, _final_snapshot)
_on(events.quitting, _exit_code)
