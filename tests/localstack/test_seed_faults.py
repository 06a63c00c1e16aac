"""The seed examples on the local stack with the faulty builds (issue 14): judged on the users' traffic, not on the
prober's, a build whose /api/items fails 20% of the time or answers in 1.7 s ends ROLLED BACK.

Each run installs 1.0.0 on the example's own target, then runs the example's deploy, SLO and post-rollback
scenarios with shortened windows (the seed runbooks read SEED_SLO_WINDOW_S, SEED_SLO_INTERVAL_S and
SEED_SLO_MAX_DURATION_S; unset, every watch is as long as the feature says).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.stack import Demo

from releasegate.checks.deploy.prober import PROBER_HEADERS
from releasegate.load.runner import load_headers
from releasegate.localstack import StackConfig

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SHORT = {"SEED_SLO_WINDOW_S": "6", "SEED_SLO_INTERVAL_S": "2", "SEED_SLO_MAX_DURATION_S": "6"}
# deploy, the SLO watches and the post-rollback checks; the rest of each checklist is not what is tested here
STAGES = "deploy or slo or post_rollback"


def pytest_run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    journal = tmp_path / "journal"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q",
         "-o", f"releasegate_journal_dir={journal}", "--alluredir", str(tmp_path / "allure"), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, **SHORT},
    )
    events = [json.loads(line) for path in journal.glob("*.jsonl") for line in path.read_text().splitlines()]
    finished = next((e for e in events if e.get("event") == "run_finished"), None)
    assert finished is not None, f"no run_finished in the journal: {proc.stdout[-3000:]}{proc.stderr[-2000:]}"
    return proc, finished


def remove_example_containers(docker_client: Any) -> None:
    for container in docker_client.containers.list(all=True, filters={"label": "org.releasegate.managed=true"}):
        if container.name.startswith("seed00"):
            container.remove(force=True)


def install_previous(tmp_path: Path, env: str) -> None:
    for args in (["-m", "migrate"], ["--release", "1.0.0", "-m", "deploy"]):
        proc, finished = pytest_run(tmp_path / "install" / args[-1], "features/install.feature", "--env", env,
                                    *args)
        assert finished["decision"] == "PROMOTED", proc.stdout[-3000:]


LABEL_PORT = 18010


def test_the_demo_labels_each_request_by_who_sent_it(demo: Demo) -> None:
    instance = demo.start("1.1.0", LABEL_PORT)
    demo.wait_healthy(instance)  # the image's own HEALTHCHECK has called /health by now
    with httpx.Client(timeout=5) as http:
        for headers in ({}, PROBER_HEADERS, load_headers("users"), {"X-Releasegate-Synthetic": "made-up"}):
            assert http.get(f"{instance.url}/health", headers=headers).status_code == 200
        metrics = http.get(f"{instance.url}/metrics").text
    kinds = {line.split('synthetic="')[1].split('"')[0] for line in metrics.splitlines()
             if line.startswith("http_requests_total{") and 'path="/health"' in line}
    assert kinds == {"false", "prober", "load", "other", "healthcheck"}, metrics


CASES = [
    # (feature, env, build, what catches it)
    ("003_ontology_download.feature", "seed-003-ontology-download", "1.1.0-errors",
     "Stage 5 - monitor the error rate for 5 minutes"),
    ("003_ontology_download.feature", "seed-003-ontology-download", "1.1.0-slow", "High latency warning"),
    ("003_ontology_download_canary.feature", "seed-003-ontology-download", "1.1.0-errors",
     "Canary - start and progression"),
    ("003_ontology_download_canary.feature", "seed-003-ontology-download", "1.1.0-slow",
     "Canary - start and progression"),
]


@pytest.mark.parametrize(("feature", "env", "build", "caught_by"), CASES,
                         ids=[f"{c[0].split('.')[0]}-{c[2]}" for c in CASES])
def test_a_faulty_build_of_a_seed_example_is_rolled_back(stack: StackConfig, docker_client: Any, tmp_path: Path,
                                                         feature: str, env: str, build: str, caught_by: str) -> None:
    remove_example_containers(docker_client)
    install_previous(tmp_path, env)
    started = time.monotonic()
    proc, finished = pytest_run(tmp_path / "release", f"features/examples/{feature}", "--env", env,
                                "--release", build, "-m", STAGES, "-k", "not notified")
    output = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert finished["decision"] == "ROLLED BACK", output
    assert proc.returncode == 1, output
    assert caught_by in json.dumps(finished), output
    print(f"{feature} {build}: ROLLED BACK in {time.monotonic() - started:.0f}s")
