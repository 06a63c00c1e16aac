"""The stack's Prometheus: Debian's ``/usr/bin/prometheus`` as a plain process, scraping every second.

``<root>/prometheus`` holds ``prometheus.yml`` (written from the stack's ports), ``rules.yml`` (a
copy of ``prometheus_rules.yml`` beside this module: the seeds' example alerts), ``data/``,
``prometheus.log`` and ``prometheus.pid``. Demo containers are found through Docker service
discovery (see instances.py); other targets can be dropped as file_sd JSON into ``targets/``.
A changed config or rule file is taken with a ``/-/reload``, without a restart.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from releasegate.checks._support import http, processes
from releasegate.checks.errors import CheckError
from releasegate.checks.slo.prometheus import PrometheusClient
from releasegate.localstack._process import start_detached
from releasegate.localstack.component import ComponentStatus, Log, say
from releasegate.localstack.config import StackConfig
from releasegate.localstack.host import PROMETHEUS
from releasegate.localstack.instances import LABEL

RULES = Path(__file__).with_name("prometheus_rules.yml")


def config_text(config: StackConfig) -> str:
    """``prometheus.yml`` for the stack: scrape the demo containers on the stack's instance ports."""
    directory = config.prometheus_dir
    docker_label = "__meta_docker_container_label_" + LABEL.replace(".", "_")
    ports = "|".join(str(p) for p in config.instance_ports)
    settings: dict[str, Any] = {
        "global": {
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "evaluation_interval": "1s",
            "external_labels": {"stack": "releasegate-local"},
        },
        "rule_files": [str(directory / "rules.yml")],
        "scrape_configs": [
            {
                "job_name": "demo",
                "metrics_path": "/metrics",
                "docker_sd_configs": [
                    {
                        "host": "unix:///var/run/docker.sock",
                        "refresh_interval": "1s",
                        "host_networking_host": "127.0.0.1",
                        "filters": [{"name": "label", "values": [f"{LABEL}.port"]}],
                    }
                ],
                "file_sd_configs": [{"files": [str(directory / "targets" / "*.json")], "refresh_interval": "1s"}],
                "relabel_configs": [
                    {"source_labels": [f"{docker_label}_port"], "regex": "(.+)", "target_label": "__address__",
                     "replacement": "127.0.0.1:$1"},
                    {"source_labels": ["__address__"], "regex": rf"127\.0\.0\.1:({ports})", "action": "keep"},
                    {"source_labels": [f"{docker_label}_service"], "regex": "(.+)", "target_label": "service"},
                    {"source_labels": [f"{docker_label}_colour"], "regex": "(.+)", "target_label": "colour"},
                    {"source_labels": ["__meta_docker_container_name"], "regex": "/?(.+)",
                     "target_label": "container"},
                ],
            }
        ],
    }
    return "# Written by releasegate/localstack/prometheus.py.\n" + yaml.safe_dump(settings, sort_keys=False)


def pid(config: StackConfig) -> int | None:
    """The pid of the stack's Prometheus (the one started with this stack's config), or None."""
    try:
        found = int((config.prometheus_dir / "prometheus.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    if not processes.alive(found) or str(config.prometheus_dir / "prometheus.yml") not in processes.cmdline(found):
        return None
    return found


def ready(config: StackConfig) -> bool:
    try:
        with http.client(timeout_s=2, retries=0) as client:
            return client.get(f"{config.prometheus_url}/-/ready").status_code == 200
    except httpx.HTTPError:
        return False


def ensure(config: StackConfig, log: Log = say, timeout_s: float = 60) -> None:
    directory = config.prometheus_dir
    (directory / "targets").mkdir(parents=True, exist_ok=True)
    (directory / "data").mkdir(exist_ok=True)
    changed = _write_if_changed(directory / "prometheus.yml", config_text(config))
    changed = _write_if_changed(directory / "rules.yml", RULES.read_text()) or changed
    running = pid(config) is not None
    if running and changed:
        log("reloading Prometheus (config changed)")
        _reload(config)
    if not running:
        if not Path(PROMETHEUS).is_file():
            raise CheckError(f"{PROMETHEUS} not found: apt-get install prometheus (scripts/setup does)")
        log(f"starting Prometheus on {config.prometheus_url} (data: {directory / 'data'})")
        started = start_detached(
            [
                PROMETHEUS,
                f"--config.file={directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={directory / 'data'}",
                "--storage.tsdb.retention.time=2d",
                f"--web.listen-address=127.0.0.1:{config.prometheus_port}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            directory / "prometheus.log",
        )
        (directory / "prometheus.pid").write_text(f"{started}\n")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready(config):
            return
        if pid(config) is None:
            raise CheckError(f"Prometheus exited at start-up: {_tail(directory / 'prometheus.log')}")
        time.sleep(0.2)
    raise CheckError(f"Prometheus on {config.prometheus_url} not ready within {timeout_s:g}s")


def stop(config: StackConfig) -> None:
    found = pid(config)
    if found is not None:
        processes.terminate(found, timeout_s=15)


def status(config: StackConfig) -> ComponentStatus:
    return ComponentStatus("prometheus", ready(config), f"{config.prometheus_url}, data {config.prometheus_dir}/data")


def firing_alerts(config: StackConfig) -> list[str]:
    """``alertname{version}`` of every alert firing in the stack's Prometheus."""
    with PrometheusClient(config.prometheus_url) as client:
        alerts = client.alerts()
    return sorted(f"{a['labels'].get('alertname')}{{version={a['labels'].get('version', '')}}}"
                  for a in alerts if a.get("state") == "firing")


def wait_until_quiet(config: StackConfig, timeout_s: float = 90, log: Log = say) -> None:
    """Wait until no alert fires: the alerts of an earlier run (5xx of a faulty build over the last
    30 s, a removed instance) clear by themselves within a minute."""
    deadline = time.monotonic() + timeout_s
    firing = firing_alerts(config)
    if firing:
        log(f"waiting for the alerts of an earlier run to clear: {', '.join(firing)}")
    while firing and time.monotonic() < deadline:
        time.sleep(2)
        firing = firing_alerts(config)
    if firing:
        raise CheckError(f"alerts still firing after {timeout_s:g}s: {', '.join(firing)};"
                         f" see {config.prometheus_url}/alerts")


def _reload(config: StackConfig) -> None:
    try:
        with http.client(timeout_s=10) as client:
            client.post(f"{config.prometheus_url}/-/reload").raise_for_status()
    except httpx.HTTPError as exc:
        raise CheckError(f"Prometheus on {config.prometheus_url} did not reload its config: {exc}") from None


def _write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def _tail(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"
