"""Time from a failed @critical step to the first rollback action, from journal timestamps.

    python bench/rollback_latency.py --runs 10            # one process
    python bench/rollback_latency.py --runs 10 --workers 2  # under xdist

Each run is a real ``pytest`` process on a throw-away release project (a fake migrate and deploy
stage that record undo actions, then a critical check that fails). The figure per run is
``rollback_action_started.ts - check_failed.ts`` of the run's journal; the target is < 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from releasegate.checks.run.journal import Journal  # noqa: E402

STEPS = '''
from pytest_bdd import given, parsers, then

from releasegate.checks.result import CheckResult
from releasegate.checks.run.rollback_plan import register_action


def undo(params):
    """Bench undo action: nothing to do."""
    return CheckResult.ok("undo " + params["stage"], observed="undone")


register_action("bench.undo", undo)


@given(parsers.parse('the bench stage "{stage}" made a change'))
def made_change(stage, release_journal):
    release_journal.stage_completed("bench.undo", {"stage": stage})


@then("the bench check fails")
def bench_fails(evidence):
    evidence.require(CheckResult.fail("bench check", observed="HTTP 500", expected="HTTP 200"))
'''

FEATURE = """
Feature: Bench release
  @migrate @critical
  Scenario: migrate
    Given the bench stage "migrate" made a change

  @deploy @critical
  Scenario: deploy
    Given the bench stage "deploy" made a change
    Then the bench check fails

  @smoke
  Scenario: smoke
    Given the bench stage "smoke" made a change
"""

RUNBOOK = """
name: bench
release: {version: "1.1.0", previous_version: "1.0.0"}
services:
  - {name: api, base_url: "http://127.0.0.1:9"}
"""


def make_project(root: Path) -> None:
    settings = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    markers = "\n".join(f"    {m!r}," for m in settings["markers"])
    addopts = ", ".join(repr(a) for a in settings["addopts"])
    (root / "pyproject.toml").write_text(
        f"[tool.pytest.ini_options]\npythonpath = [{str(REPO_ROOT)!r}, \".\"]\naddopts = [{addopts}]\n"
        f"markers = [\n{markers}\n]\n")
    (root / "conftest.py").write_text((REPO_ROOT / "conftest.py").read_text()
                                      + '\npytest_plugins.append("bench_steps")\n')
    (root / "bench_steps.py").write_text(STEPS)
    (root / "features").mkdir()
    (root / "features" / "release.feature").write_text(FEATURE)
    (root / "runbooks").mkdir()
    (root / "runbooks" / "bench.yaml").write_text(RUNBOOK)


def one_run(root: Path, workers: int) -> float:
    command = [sys.executable, "-m", "pytest", "features/release.feature", "--env", "bench", "-q",
               "-p", "no:cacheprovider"]
    if workers:
        command += ["-n", str(workers)]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    if done.returncode != 1:
        raise SystemExit(f"expected exit status 1 (rolled back), got {done.returncode}:\n{done.stdout}{done.stderr}")
    journal = Journal.latest(root / "reports" / "journal")
    assert journal is not None
    failed = journal.first("check_failed")
    first_action = journal.first("rollback_action_started")
    if failed is None or first_action is None:
        raise SystemExit(f"journal {journal.path} lacks check_failed or rollback_action_started")
    return float(first_action["ts"]) - float(failed["ts"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=0, help="xdist workers (0: one process)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="releasegate-bench-") as directory:
        root = Path(directory)
        make_project(root)
        latencies = []
        for run in range(1, args.runs + 1):
            latency = one_run(root, args.workers)
            latencies.append(latency)
            print(f"run {run:2d}: failed critical step -> first rollback action {latency * 1000:8.1f} ms")
    mode = f"-n {args.workers}" if args.workers else "one process"
    summary = {
        "mode": mode, "runs": len(latencies), "min_ms": round(min(latencies) * 1000, 1),
        "median_ms": round(statistics.median(latencies) * 1000, 1), "max_ms": round(max(latencies) * 1000, 1),
        "target_ms": 1000, "met": max(latencies) < 1.0,
    }
    print(json.dumps(summary))
    if not summary["met"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
