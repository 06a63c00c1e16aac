"""Load stages with Locust, run out of process, judged per stage on the returned statistics.

Importing locust patches the whole process with gevent, so this module never does: it writes
the profile as JSON, starts ``python -m locust -f releasegate/load/locustfile.py --headless`` (one process,
or with ``workers: N`` a master and N worker processes on 127.0.0.1), and reads back what the
run left: per-stage counts and response-time histograms (``stages.json``, written by the
locustfile, see ``load.stats``), Locust's JSON statistics, CSV files and HTML report. The
locustfile stops the run early when, after the grace delay, the failure ratio or the p95 of the
current stage breaks its threshold.

Remote workers: start ``RELEASEGATE_LOAD_PROFILE=profile.json python -m locust -f releasegate/load/locustfile.py
--worker --master-host MASTER`` on other machines with the same profile file (documented in
docs/slo-and-load.md); this module starts local ones only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releasegate.checks import secrets
from releasegate.checks._support.paths import PACKAGE_ROOT, REPO_ROOT
from releasegate.checks.deploy.prober import SYNTHETIC_HEADER, VERSION
from releasegate.checks.errors import ConfigError
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import LoadProfile, Runbook
from releasegate.load.stats import StageRecord, breaches, stage_figures

LOCUSTFILE = PACKAGE_ROOT / "load" / "locustfile.py"
PROFILE_ENV = "RELEASEGATE_LOAD_PROFILE"
STARTUP_ALLOWANCE_S = 30.0


def load_headers(profile_name: str) -> dict[str, str]:
    """What every request of a load profile says about itself: synthetic ``load`` traffic of this profile.

    The label a service exports from ``X-Releasegate-Synthetic`` tells load from the prober (``prober``)
    and from real users (no header); ``slo.real_traffic_selector`` counts load traffic as real by default,
    because a profile models the service's users (docs/slo-and-load.md).
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", profile_name)
    return {SYNTHETIC_HEADER: "load", "User-Agent": f"releasegate-load/{VERSION} ({safe})"}


@dataclass
class LoadResult:
    check: CheckResult
    out_dir: Path
    files: dict[str, Path]
    stages: list[dict[str, Any]]
    aborted: dict[str, Any] | None
    exit_code: int | None


class LoadRun:
    """One Locust run in the background: ``start()``, then ``wait()`` for the verdict."""

    def __init__(self, profile: LoadProfile, host: str, out_dir: Path, *, name: str = "load",
                 python: str = sys.executable, hold_s: float = 0.0, abort_on_breach: bool = True,
                 headers: dict[str, str] | None = None) -> None:
        self.profile = profile
        self.hold_s = max(0.0, hold_s)
        self.abort_on_breach = abort_on_breach
        self.headers = headers if headers is not None else load_headers(name)
        self.host = host.rstrip("/")
        self.out_dir = out_dir
        self.name = name
        self.python = python
        self.processes: list[subprocess.Popen[bytes]] = []
        self.started_at = 0.0
        self.stopped_reason: str | None = None

    @property
    def planned_s(self) -> float:
        return sum(s.duration_s for s in self.profile.stages) + self.hold_s

    def start(self) -> LoadRun:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        profile_file = self.out_dir / "profile.json"
        stages_file = self.out_dir / "stages.json"
        stages_file.unlink(missing_ok=True)
        self.started_file.unlink(missing_ok=True)
        data = self.profile.model_dump(mode="json")
        self.stop_file.unlink(missing_ok=True)
        data |= {"host": self.host, "stages_out": str(stages_file), "started_out": str(self.started_file),
                 "stop_file": str(self.stop_file), "headers": self.headers, "hold_s": self.hold_s,
                 "abort_on_breach": self.abort_on_breach}
        profile_file.write_text(json.dumps(data, indent=2))
        env = dict(os.environ)
        env[PROFILE_ENV] = str(profile_file)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        common = [self.python, "-m", "locust", "-f", str(LOCUSTFILE)]
        outputs = [
            "--headless", "--only-summary", "--host", self.host, "--exit-code-on-error", "0",
            "--json-file", str(self.out_dir / "stats"), "--csv", str(self.out_dir / "stats"),
            "--html", str(self.out_dir / "report.html"),
        ]
        workers = self.profile.workers
        self.started_at = time.monotonic()
        if workers <= 0:
            self._spawn(common + outputs, "locust.log", env)
            return self
        port = _free_port()
        self._spawn(
            common + outputs + ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                                "--expect-workers", str(workers), "--expect-workers-max-wait", "30"],
            "master.log", env,
        )
        for i in range(workers):
            self._spawn([*common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
                        f"worker-{i + 1}.log", env)
        return self

    def _spawn(self, argv: list[str], log_name: str, env: dict[str, str]) -> None:
        with (self.out_dir / log_name).open("wb") as log:
            self.processes.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                                   cwd=str(REPO_ROOT), start_new_session=True))

    @property
    def started_file(self) -> Path:
        return self.out_dir / "started.json"

    @property
    def stop_file(self) -> Path:
        return self.out_dir / "stop-requested"

    def request_stop(self, reason: str) -> None:
        """Ask the run to end now, keeping its statistics (the locustfile checks every half second)."""
        self.stop_file.write_text(reason)
        self.stopped_reason = reason

    def wait_started(self, timeout_s: float = STARTUP_ALLOWANCE_S, poll_s: float = 0.1) -> bool:
        """Wait until the first stage has begun (all workers connected); False if the run ended or never began."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.started_file.is_file():
                return True
            if not self.running():
                return False
            time.sleep(poll_s)
        return False

    def running(self) -> bool:
        return bool(self.processes) and self.processes[0].poll() is None

    def stop(self) -> None:
        """Kill what is left of the run (after ``wait``, or when it must end without statistics)."""
        for process in self.processes:
            if process.poll() is None:
                _signal(process, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(process, signal.SIGKILL)
                process.wait()

    def wait(self, timeout_s: float | None = None) -> LoadResult:
        limit = timeout_s if timeout_s is not None else self.planned_s + STARTUP_ALLOWANCE_S
        deadline = self.started_at + limit
        if self.stopped_reason is not None:
            deadline = min(deadline, time.monotonic() + 15)
        timed_out = False
        master = self.processes[0]
        try:
            master.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
        for worker in self.processes[1:]:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(max(1.0, deadline - time.monotonic()))
        self.stop()
        return self._result(master.returncode, timed_out, limit)

    def _result(self, exit_code: int | None, timed_out: bool, limit: float) -> LoadResult:
        files = {
            "stats_json": self.out_dir / "stats.json",
            "stats_csv": self.out_dir / "stats_stats.csv",
            "failures_csv": self.out_dir / "stats_failures.csv",
            "html": self.out_dir / "report.html",
            "stages_json": self.out_dir / "stages.json",
            "log": self.out_dir / ("locust.log" if self.profile.workers <= 0 else "master.log"),
        }
        files = {k: v for k, v in files.items() if v.is_file()}
        expected = _expected(self.profile)
        evidence: dict[str, Any] = {"host": secrets.redact(self.host), "workers": self.profile.workers,
                                    "user_class": self.profile.user_class, "exit_code": exit_code,
                                    "files": {k: str(v) for k, v in files.items()}}
        elapsed = round(time.monotonic() - self.started_at, 2)
        if "stages_json" not in files:
            why = f"did not finish within {limit:g}s" if timed_out else f"exited with code {exit_code}"
            tail = _tail(files.get("log"))
            check = CheckResult.unknown(self.name, f"locust {why} without stage statistics: {tail}",
                                        expected=expected, elapsed_s=elapsed, evidence=evidence)
            return LoadResult(check, self.out_dir, files, [], None, exit_code)
        data = json.loads(files["stages_json"].read_text())
        records = [StageRecord.from_dict(s) for s in data.get("stages", [])]
        aborted = data.get("aborted")
        stopped = data.get("stopped")
        thresholds = self.profile.thresholds.model_dump()
        stages = [stage_figures(r) for r in records]
        problems = []
        for figures in stages:
            figures["breaches"] = breaches(figures, thresholds)
            problems.extend(figures["breaches"])
        if aborted:
            problems = [f"aborted at {aborted['at_s']}s: {aborted['reason']}"] + [
                p for p in problems if p not in aborted["reason"]
            ]
        evidence |= {"stages": stages, "aborted": aborted, "stopped": stopped, "thresholds": thresholds,
                     "totals": _totals(files)}
        observed = "; ".join(_stage_text(f) for f in stages) or "no stage ran"
        if not stages:
            check = CheckResult.unknown(self.name, "no stage ran", expected=expected, elapsed_s=elapsed,
                                        evidence=evidence)
        else:
            if len(stages) < len(self.profile.stages) and not aborted and not stopped:
                problems.append(f"only {len(stages)} of {len(self.profile.stages)} stages ran")
            detail = "; ".join(problems + ([f"stopped early: {stopped}"] if stopped else []))
            check = CheckResult.judge(self.name, not problems, observed, expected, detail=detail,
                                      elapsed_s=elapsed, evidence=evidence)
        return LoadResult(check, self.out_dir, files, stages, aborted, exit_code)


def profile_for(runbook: Runbook, name: str) -> tuple[LoadProfile, str]:
    """The named load profile and the URL it loads (profile.host, else its service's base_url)."""
    profile = runbook.lookup("load", name)
    if profile.host:
        return profile, profile.host
    if profile.service:
        return profile, runbook.service(profile.service).base_url
    if len(runbook.services) == 1:
        return profile, runbook.services[0].base_url
    raise ConfigError(f"load.{name}: set host or service so the load knows where to go")


def run_load(profile: LoadProfile, host: str, out_dir: Path, *, name: str = "load") -> LoadResult:
    """Run a load profile to the end (or its abort) and judge every stage."""
    return LoadRun(profile, host, out_dir, name=name).start().wait()


def report_dir(root: Path, name: str) -> Path:
    """Where one run of the profile ``name`` leaves its files: ``reports/load/<UTC stamp>-<name>`` under ``root``."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
    return root / "reports" / "load" / f"{time.strftime('%Y%m%dT%H%M%S')}-{safe}"


def start_profile(runbook: Runbook, name: str, out_dir: Path, *, hold_s: float = 0.0,
                  abort_on_breach: bool = True) -> LoadRun | CheckResult:
    """Start the runbook's load profile ``name``; INCONCLUSIVE when the runbook does not define it fully.

    ``hold_s`` keeps its last stage running that much longer; ``abort_on_breach`` False keeps the traffic
    flowing when a threshold breaks (the load serves an analysis, which gives the verdict).
    """
    try:
        profile, host = profile_for(runbook, name)
    except ConfigError as exc:
        return CheckResult.unknown(f'load profile "{name}"', str(exc))
    return LoadRun(profile, host, out_dir, name=f'load profile "{name}"', hold_s=hold_s,
                   abort_on_breach=abort_on_breach, headers=load_headers(name)).start()


def run_profile(runbook: Runbook, name: str, out_dir: Path) -> LoadResult | CheckResult:
    """Run the runbook's load profile ``name`` to the end; the CheckResult says why it could not run."""
    run = start_profile(runbook, name, out_dir)
    return run if isinstance(run, CheckResult) else run.wait()


def _expected(profile: LoadProfile) -> str:
    t = profile.thresholds
    parts = []
    if t.failure_ratio_max is not None:
        parts.append(f"failure ratio <= {t.failure_ratio_max:.2%}")
    if t.p95_ms_max is not None:
        parts.append(f"p95 <= {t.p95_ms_max:g}ms")
    if t.min_rps is not None:
        parts.append(f">= {t.min_rps:g} requests/s")
    stages = ", ".join(f"{s.users} users for {s.duration_s:g}s" for s in profile.stages)
    return f"{' and '.join(parts) or 'no threshold'} in every stage ({stages}; grace {t.grace_s:g}s)"


def _stage_text(f: dict[str, Any]) -> str:
    p95 = "-" if f["p95_ms"] is None else f"{f['p95_ms']:g}"
    return (f"stage {f['stage']}: {f['requests']} requests, {(f['failure_ratio'] or 0):.2%} failed, p95 {p95}ms,"
            f" {(f['rps'] or 0):.1f}/s")


def _totals(files: dict[str, Path]) -> dict[str, Any]:
    path = files.get("stats_json")
    if path is None:
        return {}
    try:
        entries = json.loads(path.read_text())
    except ValueError:
        return {}
    requests = sum(int(e.get("num_requests", 0)) for e in entries)
    failures = sum(int(e.get("num_failures", 0)) for e in entries)
    return {"requests": requests, "failures": failures, "endpoints": [e.get("name") for e in entries]}


def _tail(path: Path | None, lines: int = 5) -> str:
    if path is None or not path.is_file():
        return "no log"
    text = path.read_text(errors="replace").strip().splitlines()[-lines:]
    return secrets.redact(" | ".join(text))


def _signal(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


__all__ = ["LoadResult", "LoadRun", "load_headers", "profile_for", "report_dir", "run_load", "run_profile",
           "start_profile"]
