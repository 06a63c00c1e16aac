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
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.stack import Demo, prometheus_query, wait_for

from releasegate.checks.deploy.prober import PROBER_HEADERS
from releasegate.load.runner import load_headers
from releasegate.localstack import StackConfig
from releasegate.localstack.webhook_sink import make_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SHORT = {"SEED_SLO_WINDOW_S": "10", "SEED_SLO_INTERVAL_S": "2", "SEED_SLO_MAX_DURATION_S": "6"}
# backup (the data fingerprint), deploy, the SLO watches and the post-rollback checks; the rest of each
# checklist is not what is tested here
STAGES = "not (preflight or migrate or smoke or load or manual)"


@pytest.fixture(scope="module")
def webhook_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The seeds' webhook (notifications.webhook_url): "the team is notified" and the rollback notifications."""
    out = tmp_path_factory.mktemp("webhooks") / "webhooks.jsonl"
    server = make_server("127.0.0.1:18950", out)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    yield out
    server.shutdown()
    server.server_close()


def pytest_run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    journal = tmp_path / "journal"
    tmp_path.mkdir(parents=True, exist_ok=True)  # --signoff names a file in a folder that exists
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q",
         "-o", f"releasegate_journal_dir={journal}", "--alluredir", str(tmp_path / "allure"),
         "--signoff", str(tmp_path / "signoff.md"), *args],
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


def install_previous(tmp_path: Path, env: str, base_url: str) -> None:
    """1.0.0 serving on the example's target (left so by the rollback of the previous case, else installed)."""
    try:
        if httpx.get(f"{base_url}/version", timeout=3).json().get("version") == "1.0.0":
            return
    except (httpx.HTTPError, ValueError):
        pass
    for args in (["-m", "migrate", "--approve", "e2e"], ["--release", "1.0.0", "-m", "deploy", "--approve", "e2e"]):
        proc, finished = pytest_run(tmp_path / "install" / args[-1], "features/install.feature", "--env", env,
                                    *args)
        assert finished["decision"] in ("PROMOTED", "PASSED"), proc.stdout[-3000:]  # PASSED: partial (-m)


LABEL_PORT = 18010
INSTALLED: dict[str, str] = {}


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


SEEDS = {
    # feature: (env, the example's own router)
    "000_snowmobile.feature": ("seed-000-snowmobile", "http://127.0.0.1:18960"),
    "001_worker_refactor.feature": ("seed-001-worker-refactor", "http://127.0.0.1:18961"),
    "002_investment.feature": ("seed-002-investment", "http://127.0.0.1:18963"),
    "003_ontology_download.feature": ("seed-003-ontology-download", "http://127.0.0.1:18965"),
    "003_ontology_download_canary.feature": ("seed-003-ontology-download", "http://127.0.0.1:18965"),
    "004_docsense.feature": ("seed-004-docsense", "http://127.0.0.1:18966"),
}
# what catches each build, measured on real traffic (never a lack of it): the error-rate watch or gate for
# 1.1.0-errors; the latency watch or gate, the HighLatencyP95 alert over the users' traffic, or the prober that
# cannot keep its rate through it, for 1.1.0-slow
CAUGHT_BY = {"1.1.0-errors": ("error rate",), "1.1.0-slow": ("latency", "could not keep its rate", 'alerts of "')}
# 004's post-rollback checklist has a manual item: confirmed here, so the post-rollback stage can pass
SELECTION = {"004_docsense.feature": ("-m", "not (preflight or migrate or smoke or load)",
                                      "--confirm", "Schedule post-mortem if rollback was needed=e2e")}
# The seed 003 examples (the ones issue 14 found promoting a broken build) run in every e2e run; the other
# seeds' examples (about 11 minutes more on 2 shared cores) with RELEASEGATE_SEED_FAULTS=all.
ALL_SEEDS = os.environ.get("RELEASEGATE_SEED_FAULTS") == "all"
CASES = [
    pytest.param(feature, build, marks=[] if feature.startswith("003") or ALL_SEEDS else [pytest.mark.skip(
        reason="the other seeds' faulty builds run with RELEASEGATE_SEED_FAULTS=all")])
    for feature in SEEDS for build in CAUGHT_BY
]
IDS = [f"{f.split('.')[0]}-{b}" for f in SEEDS for b in CAUGHT_BY]


def release(tmp_path: Path, docker_client: Any, feature: str, build: str,
            *selection: str) -> tuple[str, dict[str, Any], str]:
    env, base_url = SEEDS[feature]
    if env != INSTALLED.get("env"):
        remove_example_containers(docker_client)  # another example's containers hold the shared ports
        INSTALLED["env"] = env
    install_previous(tmp_path, env, base_url)
    proc, finished = pytest_run(tmp_path / "release", f"features/examples/{feature}", "--env", env,
                                "--release", build, "--approve", "e2e", *selection)
    return proc.stdout[-4000:] + proc.stderr[-2000:], finished, (tmp_path / "release" / "signoff.md").read_text()


@pytest.mark.parametrize(("feature", "build"), CASES, ids=IDS)
def test_a_faulty_build_of_a_seed_example_is_rolled_back(stack: StackConfig, docker_client: Any, tmp_path: Path,
                                                         webhook_sink: Path, feature: str, build: str) -> None:
    started = time.monotonic()
    output, finished, signoff = release(tmp_path, docker_client, feature, build,
                                        *SELECTION.get(feature, ("-m", STAGES)))
    assert finished["decision"] == "ROLLED BACK", output
    failed = signoff.split("## Failed checks", 1)[1].split("## Rollback", 1)[0]
    assert any(text in failed for text in CAUGHT_BY[build]), failed
    assert "not enough traffic to judge" not in failed.split("\n")[0], failed
    assert "Post-rollback checks passed" in signoff, signoff
    print(f"{feature} {build}: ROLLED BACK in {time.monotonic() - started:.0f}s\n{failed[:2000]}")


def test_the_good_build_of_the_seed_003_canary_is_promoted_on_the_users_traffic(
        stack: StackConfig, docker_client: Any, tmp_path: Path, webhook_sink: Path) -> None:
    # the preflight wants every scraped target up: Prometheus forgets the canary a previous case removed
    # and the alerts the faulty builds of the earlier cases fired have resolved (the canary's gates read them)
    assert wait_for(lambda: not prometheus_query(stack, 'up{service="ontology-download"} == 0')
                    and not prometheus_query(stack, 'ALERTS{service="ontology-download", alertstate="firing"}'),
                    timeout_s=120)
    started = time.monotonic()
    output, finished, signoff = release(tmp_path, docker_client, "003_ontology_download_canary.feature", "1.1.0")
    assert signoff.startswith("# Release sign-off: PROMOTED"), signoff
    assert finished["decision"] == "PROMOTED", output
    assert "3 passed, 1 skipped" in output, output  # the post-rollback scenario has nothing to check
    print(f"003 canary 1.1.0: PROMOTED in {time.monotonic() - started:.0f}s")
