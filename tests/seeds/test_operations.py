"""The operations checks and steps on real parts: bash, an HTTP webhook sink, Prometheus, Docker containers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
from support.fake_service import FakeService
from support.slo_servers import PrometheusServer, free_port

from releasegate.checks import secrets
from releasegate.checks.deploy import logs, resources
from releasegate.checks.deploy.targets.base import get_target
from releasegate.checks.deploy.targets.docker import DockerTarget
from releasegate.checks.preflight import commands
from releasegate.checks.result import Outcome
from releasegate.checks.run import notify_team
from releasegate.checks.runbook.model import Runbook, Service
from releasegate.checks.runbook.model import Target as TargetSpec
from releasegate.checks.runbook.options import DockerOptions
from releasegate.checks.slo import monitoring
from releasegate.checks.slo.prometheus import PrometheusClient
from releasegate.localstack.webhook_sink import make_server

ROOT = Path(__file__).resolve().parents[2]
WORK = Path("/tmp/releasegate-seeds")
SINK_PORTS = range(18950, 18960)
RULES = """\
groups:
  - name: seeds
    rules:
      - alert: HighErrorRate
        expr: vector(0) > 1
      - alert: ServiceDown
        expr: up == 0
"""


def _workdir(name: str) -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=WORK))


# --- host commands ------------------------------------------------------------------------------

def _runbook(**fields: Any) -> Runbook:
    return Runbook.model_validate({"name": "t", **fields})


def test_a_named_command_runs_what_the_runbook_maps_it_to() -> None:
    runbook = _runbook(commands={"make validate-all": "echo mapped; exit 0",
                                 "slow": {"run": "sleep 5", "timeout_s": 0.5}})
    mapped = commands.resolve("make validate-all", runbook, ROOT)
    assert (mapped.run, mapped.source) == ("echo mapped; exit 0", "runbook commands.make validate-all")
    result = commands.check_succeeds(mapped)
    assert result.passed and result.evidence["output_tail"].strip() == "mapped"
    as_written = commands.resolve("test -d releasegate/checks", runbook, ROOT)
    assert as_written.source == "as written" and commands.check_succeeds(as_written).passed
    timed_out = commands.check_succeeds(commands.resolve("slow", runbook, ROOT))
    assert timed_out.failed and "within 0.5s" in str(timed_out.observed)


def test_a_failing_command_fails_with_its_last_line_and_masked_secrets() -> None:
    secrets.register("s3cr3t-token-value")
    command = commands.resolve("echo 'token s3cr3t-token-value'; echo 'lint: 3 errors' >&2; exit 3", None, ROOT)
    result = commands.check_succeeds(command)
    assert result.failed
    assert result.observed == "exit code 3" and "lint: 3 errors" in result.detail
    assert "s3cr3t-token-value" not in json.dumps(result.evidence)
    assert "*****" in result.evidence["output_tail"]


def test_command_output_must_contain_the_text() -> None:
    command = commands.resolve("echo 'current revision 0003 (head)'", None, ROOT)
    assert commands.check_output_contains(command, "0003").passed
    missing = commands.check_output_contains(command, "0004")
    assert missing.failed and "0004" in str(missing.expected)


# --- notifications ------------------------------------------------------------------------------

@pytest.fixture
def webhook_sink() -> Iterator[tuple[str, Path]]:
    out = _workdir("sink") / "webhooks.jsonl"
    port = free_port(SINK_PORTS)
    server = make_server(f"127.0.0.1:{port}", out)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/hook", out
    server.shutdown()
    server.server_close()


def test_the_team_is_notified_through_the_webhook(webhook_sink: tuple[str, Path]) -> None:
    url, out = webhook_sink
    result = notify_team(url, "#deployments", "docsense deployed")
    assert result.passed, result.summary()
    messages = [json.loads(line) for line in out.read_text().splitlines()]
    assert messages == [{"path": "/hook", "message": {"text": "docsense deployed", "channel": "#deployments"}}]


def test_a_notification_nobody_receives_fails() -> None:
    port = free_port(SINK_PORTS)  # nothing listens there
    result = notify_team(f"http://127.0.0.1:{port}/hook", "#deployments", "hello", timeout_s=0.5, retries=1)
    assert result.failed and "not delivered" in str(result.observed)
    assert notify_team(None, "#deployments", "hello").failed


# --- monitoring ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def prometheus() -> Iterator[PrometheusServer]:
    service = FakeService("1.1.0", synthetic_rps=20).start()
    server = PrometheusServer(_workdir("prometheus"), {"svc": [f"127.0.0.1:{service.port}"]}, rules=RULES).start()
    try:
        server.wait_for_series('http_requests_total{service="svc"}')
        yield server
    finally:
        server.stop()
        service.stop()


def test_alert_rules_are_found_loaded_or_missing(prometheus: PrometheusServer) -> None:
    with PrometheusClient(prometheus.url) as client:
        assert monitoring.alert_rules_loaded(client, ["HighErrorRate", "ServiceDown"]).passed
        missing = monitoring.alert_rules_loaded(client, ["HighErrorRate", "HighCPUUsage"])
    assert missing.failed and missing.observed["missing"] == ["HighCPUUsage"]


def test_a_scraped_service_and_its_metrics(prometheus: PrometheusServer) -> None:
    with PrometheusClient(prometheus.url) as client:
        assert monitoring.service_scraped(client, "svc").passed
        assert monitoring.metric_reported(client, "http_requests_total", "svc").passed
        unknown = monitoring.service_scraped(client, "nobody")
        no_metric = monitoring.metric_reported(client, "products_processed_total", "svc")
    assert unknown.failed and "no scrape target" in str(unknown.observed)
    assert no_metric.failed and no_metric.observed == "0 series"


def test_a_prometheus_that_does_not_answer_is_inconclusive() -> None:
    port = free_port(range(19200, 19300))
    with PrometheusClient(f"http://127.0.0.1:{port}", timeout_s=1) as client:
        assert monitoring.alert_rules_loaded(client, ["HighErrorRate"]).outcome is Outcome.INCONCLUSIVE
        assert monitoring.service_scraped(client, "svc").outcome is Outcome.INCONCLUSIVE


# --- containers: resources and logs -------------------------------------------------------------

@pytest.fixture(scope="module")
def container() -> Iterator[DockerTarget]:
    """A docker target whose service "svc" runs one container this test starts (slot 0)."""
    import docker

    client = docker.from_env(timeout=30)
    images = [t for image in client.images.list() for t in image.tags if t.startswith("releasegate-")]
    if not images:
        pytest.fail("no releasegate-* image on the engine: run scripts/setup (or scripts/local-stack images)")
    image = sorted(images)[0]
    project = f"rg-seeds-ops-{os.getpid()}"
    script = "echo 'started'; echo 'CRITICAL: disk almost full'; exec sleep 120"
    started = client.containers.run(image, ["sh", "-c", script], detach=True, entrypoint=[],
                                    name=f"{project}-svc-0", labels={"org.releasegate.test": "seeds"},
                                    user="nobody", network_mode="none")
    target = DockerTarget(TargetSpec(name="ops", kind="docker", options=DockerOptions(project=project)),
                          [Service(name="svc", base_url="http://127.0.0.1:9")])
    try:
        deadline = time.monotonic() + 20
        while b"CRITICAL" not in started.logs() and time.monotonic() < deadline:
            time.sleep(0.2)
        yield target
    finally:
        started.remove(force=True)
        target.close()
        client.close()


def test_container_memory_and_cpu_against_limits(container: DockerTarget) -> None:
    roomy = resources.check_usage(container, "svc", "memory_mb", 4096, " MB")
    assert roomy.passed, roomy.summary()
    tight = resources.check_usage(container, "svc", "memory_mb", 0.001, " MB")
    assert tight.failed
    assert resources.check_usage(container, "svc", "cpu_percent", 100, "%").passed


def test_container_logs_free_of_a_text(container: DockerTarget) -> None:
    assert logs.check_logs_free_of(container, "svc", "Configuration validation failed").passed
    found = logs.check_logs_free_of(container, "svc", "CRITICAL")
    assert found.failed and found.observed == "1 matching line(s)"
    assert any("disk almost full" in line for lines in found.evidence["matching"].values() for line in lines)


def test_targets_without_containers_are_inconclusive() -> None:
    cluster = get_target(TargetSpec(name="cluster", kind="kubernetes"), [Service(name="svc", base_url="http://x")])
    assert logs.check_logs_free_of(cluster, "svc", "x").outcome is Outcome.INCONCLUSIVE
    assert resources.check_usage(cluster, "svc", "memory_mb", 1, " MB").outcome is Outcome.INCONCLUSIVE


# --- the steps, in a feature run by pytest ------------------------------------------------------

FEATURE = """\
Feature: operations steps
  @preflight
  Scenario: A mapped command and its output
    Then the command "greet" succeeds
    And the command "greet" prints "hello from the runbook"

  @preflight
  Scenario: A failing command
    Then the command "exit 4" succeeds

  @smoke
  Scenario: The team is told
    Then the team is notified in "#ops" that "release {version} verified"
"""


def test_operations_steps_in_a_feature_run(webhook_sink: tuple[str, Path]) -> None:
    url, out = webhook_sink
    folder = ROOT / "reports" / f"seed-ops-{os.getpid()}"
    (folder / "runbooks").mkdir(parents=True, exist_ok=True)
    try:
        (folder / "ops.feature").write_text(FEATURE)
        (folder / "runbooks" / "ops.yaml").write_text(textwrap.dedent(f"""\
            name: ops
            release: {{version: "2.0.0"}}
            commands:
              greet: echo 'hello from the runbook'
            notifications: {{webhook_url: "{url}"}}
        """))
        done = subprocess.run(
            [sys.executable, "-m", "pytest", str(folder / "ops.feature"), "--env", "ops", "-p", "no:cacheprovider",
             "-o", f"releasegate_runbooks_dir={folder.relative_to(ROOT) / 'runbooks'}", "-rA",
             # its record stays in its own folder: the repository's reports/ hold the user's last release
             "--signoff", str(folder / "signoff.md"), "--junitxml", str(folder / "junit.xml"),
             "--alluredir", str(folder / "allure-results"), "-o", f"releasegate_journal_dir={folder / 'journal'}"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    output = done.stdout + done.stderr
    assert "PASSED" in output and "test_a_mapped_command_and_its_output" in output, output[-3000:]
    assert "FAILED" in output and "command 'exit 4' succeeds: FAIL (observed exit code 4" in output, output[-3000:]
    texts = [json.loads(line)["message"]["text"] for line in out.read_text().splitlines()]
    assert "release {version} verified" in texts
