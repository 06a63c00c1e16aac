"""Real Prometheus and nginx processes on 127.0.0.1 for the SLO and load tests."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import httpx

PROMETHEUS_PORTS = range(19100, 19200)
NGINX_PORTS = range(19300, 19310)


def free_port(ports: range) -> int:
    """A free port of the range, tried in random order so that parallel test workers rarely pick the same one."""
    for port in random.sample(list(ports), len(ports)):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM to the server's process group, SIGKILL after 10 s."""
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class PortTaken(RuntimeError):
    pass


class PrometheusServer:
    """/usr/bin/prometheus with a temporary config scraping the given targets every second."""

    def __init__(self, workdir: Path, targets: dict[str, list[str]], *, rules: str = "",
                 scrape_interval_s: float = 1.0) -> None:
        self.workdir = workdir
        self.targets = targets
        self.rules = rules
        self.scrape_interval_s = scrape_interval_s
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20) -> PrometheusServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        interval = f"{self.scrape_interval_s:g}s"
        jobs = []
        for service, addresses in self.targets.items():
            jobs.append(textwrap.dedent(f"""\
              - job_name: {service}
                scrape_interval: {interval}
                static_configs:
                  - targets: {addresses!r}
                    labels:
                      service: {service}
            """))
        rule_files = ""
        if self.rules:
            (self.workdir / "rules.yml").write_text(self.rules)
            rule_files = f"rule_files: [{str(self.workdir / 'rules.yml')!r}]\n"
        config = (
            f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
            + rule_files
            + "scrape_configs:\n"
            + textwrap.indent("".join(jobs), "  ")
        )
        (self.workdir / "prometheus.yml").write_text(config)
        for _attempt in range(3):  # another test worker may take the port between the check and the bind
            if self._launch(timeout_s):
                return self
        raise RuntimeError(f"prometheus did not start: {(self.workdir / 'prometheus.log').read_text()[-2000:]}")

    def _launch(self, timeout_s: float) -> bool:
        self.port = free_port(PROMETHEUS_PORTS)
        log = (self.workdir / "prometheus.log").open("ab")
        self.process = subprocess.Popen(
            [
                shutil.which("prometheus") or "/usr/bin/prometheus",
                f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("prometheus did not become ready")

    def stop(self) -> None:
        stop(self.process)

    def wait_for_series(self, promql: str, timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                body = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=2).json()
                if body["data"]["result"]:
                    return
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"no data for {promql} after {timeout_s}s")


class NginxServer:
    """/usr/sbin/nginx serving a small static file, with its own config and prefix."""

    def __init__(self, workdir: Path, port: int | None = None, worker_processes: int = 1) -> None:
        self.workdir = workdir
        self.port = port or 0
        self.worker_processes = worker_processes
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10) -> NginxServer:
        chosen = self.port
        for _attempt in range(3):  # another test worker may take an auto-picked port before nginx binds it
            try:
                return self._launch(timeout_s)
            except PortTaken:
                if chosen:
                    raise
                self.port = 0
        raise RuntimeError(f"nginx could not bind a port in {NGINX_PORTS.start}-{NGINX_PORTS.stop - 1}")

    def _launch(self, timeout_s: float) -> NginxServer:
        root = self.workdir / "html"
        root.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)  # nginx workers run as nobody when started by root
        (self.workdir / "logs").mkdir(exist_ok=True)
        (root / "index.html").write_text("ok\n")
        (root / "missing-on-purpose").mkdir(exist_ok=True)
        self.port = self.port or free_port(NGINX_PORTS)
        conf = self.workdir / "nginx.conf"
        conf.write_text(textwrap.dedent(f"""\
            worker_processes {self.worker_processes};
            daemon off;
            pid {self.workdir}/nginx.pid;
            error_log {self.workdir}/logs/error.log warn;
            events {{ worker_connections 4096; }}
            http {{
                access_log off;
                keepalive_requests 1000000;
                client_body_temp_path {self.workdir}/tmp_body;
                proxy_temp_path {self.workdir}/tmp_proxy;
                fastcgi_temp_path {self.workdir}/tmp_fastcgi;
                uwsgi_temp_path {self.workdir}/tmp_uwsgi;
                scgi_temp_path {self.workdir}/tmp_scgi;
                server {{
                    listen 127.0.0.1:{self.port};
                    root {root};
                    location = /error {{ return 503; }}
                    location / {{ try_files $uri $uri/index.html =404; }}
                }}
            }}
        """))
        self.process = subprocess.Popen(
            ["/usr/sbin/nginx", "-c", str(conf), "-p", str(self.workdir), "-e", str(self.workdir / "logs/error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.workdir / "logs/error.log").read_text()[-2000:]
                if "Address already in use" in log:
                    raise PortTaken(log)
                raise RuntimeError(f"nginx exited: {log}")
            try:
                if httpx.get(self.url + "/", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"nginx did not start: {(self.workdir / 'logs/error.log').read_text()[-2000:]}")

    def stop(self) -> None:
        stop(self.process)
