"""The nginx router: nginx as a plain process in front of a service's instances (``kind: nginx``).

API (the ``TrafficRouter`` a deployment strategy needs, and what the local stack uses to run it)::

    router = Router(root=Path("/srv/nginx"))   # config and pid file there, listens on 127.0.0.1:8080
    router.start()                         # idempotent; writes a config with no backends if none exists
    router.set_weights({"127.0.0.1:18001": 100, "127.0.0.1:18002": 0},
                       colors={"blue": "127.0.0.1:18001", "green": "127.0.0.1:18002"})
    router.weights()                       # -> {"127.0.0.1:18001": 100, "127.0.0.1:18002": 0}
    router.colors()                        # -> {"blue": "127.0.0.1:18001", "green": "127.0.0.1:18002"}
    router.switch_to("127.0.0.1:18002")    # all traffic to one address, the others kept at weight 0
    router.url                             # "http://127.0.0.1:8080"

``set_weights`` writes ``upstreams.conf`` (upstream ``demo`` with the weights: a canary at 5/95 is
``{"new": 5, "old": 95}``; weight 0 is written as ``down``, so the address stays known but gets no
traffic), checks it with ``nginx -t``, reloads nginx gracefully (``nginx -s reload``: old workers
finish their requests, the listening socket is never closed, clients get no keep-alive connection
that an old worker could close under them, so no request is dropped) and waits
until the new workers answer with the new config generation. Weights are percentages by
convention but only their ratios matter to nginx. Upstreams ``blue`` and ``green`` hold the
colour addresses; a request with header ``X-Releasegate-Color: green`` goes to green whatever the
weights are (smoke tests of the standby colour through the router).

``weights()`` and ``colors()`` read the config file nginx runs with, so they are the truth after a
crash of the process that wrote them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import httpx

from releasegate.checks._support import http, processes
from releasegate.checks._support.processes import alive as process_alive
from releasegate.checks.deploy.routers.base import DEFAULT_ROOT, RouterSettings
from releasegate.checks.errors import CheckError

__all__ = ["COLORS", "DEFAULT_LISTEN", "DEFAULT_ROOT", "PLACEHOLDER", "Router", "process_alive"]

DEFAULT_LISTEN = "127.0.0.1:8080"
COLORS = ("blue", "green")
# Answers when no backend is configured yet, so the router is up before the first deploy.
PLACEHOLDER = "127.0.0.1:1"

_ADDRESS = re.compile(r"^[A-Za-z0-9.\-]+:\d{1,5}$")
_SERVER = re.compile(r"^\s*server\s+(?P<address>\S+?)(?P<params>(\s+[^;]+)?);")

MAIN_CONF = """\
# Written by checks/router.py; the upstreams are in upstreams.conf.
daemon on;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
{user}
events {{ worker_connections 1024; }}

http {{
    access_log {root}/access.log combined buffer=16k flush=1s;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;

    include {root}/upstreams.conf;

    map $http_x_releasegate_color $releasegate_backend {{
        default demo;
        blue    blue;
        green   green;
    }}

    server {{
        listen {listen};
        server_name _;
        # No client keep-alive: on a reload the old workers close idle keep-alive connections, and a
        # request a client sends on one at that instant is lost. One connection per request is cheap here.
        keepalive_timeout 0;

        location = /__router {{
            default_type application/json;
            return 200 '$releasegate_router_state';
        }}

        location / {{
            proxy_pass http://$releasegate_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
            proxy_next_upstream error timeout;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


@dataclass
class Router:
    NAME: ClassVar[str] = "nginx"

    root: Path = DEFAULT_ROOT
    listen: str = DEFAULT_LISTEN
    nginx: str = "/usr/sbin/nginx"
    reload_timeout_s: float = 10
    _generation: int = field(default=0, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: RouterSettings) -> Router:
        if not settings.root or not settings.listen:
            raise CheckError(f"an nginx router needs root and listen; the settings say {settings.as_dict()}")
        return cls(root=Path(settings.root), listen=settings.listen)

    @property
    def url(self) -> str:
        return f"http://{self.listen}"

    @property
    def conf(self) -> Path:
        return self.root / "nginx.conf"

    @property
    def upstreams_conf(self) -> Path:
        return self.root / "upstreams.conf"

    @property
    def pidfile(self) -> Path:
        return self.root / "nginx.pid"

    # ------------------------------------------------------------------ process

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        cmdline = processes.cmdline(pid)
        return pid if "nginx" in cmdline and str(self.conf) in cmdline else None

    def running(self) -> bool:
        return self.pid() is not None

    def start(self) -> None:
        """Start nginx with this router's config (idempotent)."""
        if shutil.which(self.nginx) is None and not Path(self.nginx).is_file():
            raise CheckError(f"{self.nginx} not found: install Debian's nginx package (scripts/setup does)")
        changed = self._write_main_conf()
        if not self.upstreams_conf.is_file():
            self._write_upstreams({PLACEHOLDER: 100}, {})
        if self.running():
            if changed:  # written by an older releasegate: take the new main config gracefully
                self.reload()
            return
        self._test_config()
        result = subprocess.run(
            [self.nginx, "-c", str(self.conf), "-p", str(self.root)], capture_output=True, text=True, timeout=30
        )
        if result.returncode != 0:
            raise CheckError(f"nginx did not start on {self.listen}: {_last_line(result.stderr)}")
        self._wait_for_generation(self._generation_on_disk())

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGQUIT)  # graceful: finish in-flight requests
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process_alive(pid):
            time.sleep(0.05)

    def reload(self) -> None:
        self._test_config()
        if not self.running():
            self.start()
            return
        old_workers = self._workers()
        result = subprocess.run(
            [self.nginx, "-c", str(self.conf), "-p", str(self.root), "-s", "reload"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if result.returncode != 0:
            raise CheckError(f"nginx -s reload failed: {_last_line(result.stderr)}")
        self._wait_for_generation(self._generation_on_disk())
        self._wait_for_old_workers(old_workers)

    # ------------------------------------------------------------------ weights

    def set_weights(self, weights: Mapping[str, int], colors: Mapping[str, str] | None = None) -> dict[str, int]:
        """Route traffic to ``weights`` (address -> relative weight, 0 = no traffic); reload; return them."""
        cleaned = _validate(weights)
        if colors is None:
            colors = {c: a for c, a in self.colors().items() if a in cleaned}
        for color, address in colors.items():
            if color not in COLORS:
                raise CheckError(f"router colour must be one of {COLORS}, got {color!r}")
            if not _ADDRESS.match(address):
                raise CheckError(f"router colour {color}: expected host:port, got {address!r}")
        self.root.mkdir(parents=True, exist_ok=True)
        self._write_main_conf()
        previous = self.upstreams_conf.read_text() if self.upstreams_conf.is_file() else None
        self._write_upstreams(cleaned, dict(colors))
        try:
            self.reload()
        except CheckError:
            if previous is not None:  # keep nginx and the file in agreement
                self.upstreams_conf.write_text(previous)
            raise
        return self.weights()

    def verify_weights(self, weights: Mapping[str, int]) -> bool:
        """Does nginx run with exactly these weights (every address listed, 0 = down)?"""
        return self.weights() == dict(weights)

    def remove_managed_routes(self) -> None:
        """Forget every backend: the router answers from its placeholder until the next deploy."""
        self.set_weights({PLACEHOLDER: 100}, {})

    def switch_to(self, address: str) -> dict[str, int]:
        """All traffic to ``address``; every other known address stays listed at weight 0."""
        weights = {a: 0 for a in self.weights() if a != PLACEHOLDER}
        weights[address] = 100
        return self.set_weights(weights)

    def weights(self) -> dict[str, int]:
        """address -> weight of upstream ``demo`` as nginx runs it (from upstreams.conf)."""
        return self._parse_upstreams().get("demo", {})

    def colors(self) -> dict[str, str]:
        upstreams = self._parse_upstreams()
        found: dict[str, str] = {}
        for color in COLORS:
            servers = [a for a, w in upstreams.get(color, {}).items() if w > 0]
            if servers and servers[0] != PLACEHOLDER:
                found[color] = servers[0]
        return found

    def state(self, client: httpx.Client | None = None) -> dict[str, object]:
        """What the running nginx says about itself (GET /__router); raises ``httpx.HTTPError``, ``ValueError``."""
        if client is None:
            with http.client(timeout_s=2, retries=0) as own:
                return self.state(own)
        data: dict[str, object] = client.get(f"{self.url}/__router").raise_for_status().json()
        return data

    # ------------------------------------------------------------------ files

    def _write_main_conf(self) -> bool:
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        user = "user nobody nogroup;" if os.geteuid() == 0 else ""
        text = MAIN_CONF.format(root=self.root, listen=self.listen, user=user)
        if self.conf.is_file() and self.conf.read_text() == text:
            return False
        self.conf.write_text(text)
        return True

    def _write_upstreams(self, weights: dict[str, int], colors: dict[str, str]) -> None:
        generation = self._generation_on_disk() + 1
        live = {a: w for a, w in weights.items() if w > 0}
        lines = ["# Written by releasegate; edit with Router.set_weights().", "upstream demo {"]
        for address, weight in weights.items():
            lines.append(f"    server {address} weight={weight};" if weight > 0 else f"    server {address} down;")
        lines += ["    keepalive 16;", "}"]
        for color in COLORS:
            chosen = colors.get(color)
            targets = {chosen: 1} if chosen else (live or {PLACEHOLDER: 1})
            lines.append(f"upstream {color} {{")
            lines += [f"    server {a};" for a in targets]
            lines.append("}")
        state = json.dumps({"generation": generation, "weights": weights, "colors": colors}, sort_keys=True)
        lines.append(f"map $host $releasegate_router_state {{ default '{state}'; }}")
        lines.append(f"# generation {generation}")
        self.upstreams_conf.write_text("\n".join(lines) + "\n")

    def _generation_on_disk(self) -> int:
        if not self.upstreams_conf.is_file():
            return 0
        match = re.search(r"^# generation (\d+)$", self.upstreams_conf.read_text(), re.M)
        return int(match.group(1)) if match else 0

    def _parse_upstreams(self) -> dict[str, dict[str, int]]:
        if not self.upstreams_conf.is_file():
            return {}
        upstreams: dict[str, dict[str, int]] = {}
        current: dict[str, int] | None = None
        for line in self.upstreams_conf.read_text().splitlines():
            header = re.match(r"^upstream\s+(\S+)\s*\{", line)
            if header:
                current = upstreams.setdefault(header.group(1), {})
                continue
            if line.strip() == "}":
                current = None
                continue
            server = _SERVER.match(line)
            if server and current is not None:
                params = server.group("params") or ""
                weight_match = re.search(r"weight=(\d+)", params)
                weight = 0 if " down" in params else int(weight_match.group(1)) if weight_match else 1
                current[server.group("address")] = weight
        return upstreams

    def _test_config(self) -> None:
        result = subprocess.run(
            [self.nginx, "-t", "-q", "-c", str(self.conf), "-p", str(self.root)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if result.returncode != 0:
            raise CheckError(f"nginx rejected {self.conf}: {_last_line(result.stderr)}")

    def _workers(self) -> list[int]:
        master = self.pid()
        return [] if master is None else processes.children(master)

    def _wait_for_old_workers(self, workers: list[int]) -> None:
        """Old workers stop accepting connections when they start shutting down; wait for that."""
        deadline = time.monotonic() + self.reload_timeout_s
        for pid in workers:
            while time.monotonic() < deadline:
                title = processes.cmdline(pid)  # "" once it is gone
                if "shutting down" in title or "worker" not in title:
                    break
                time.sleep(0.02)
        time.sleep(0.05)  # the worker closes its listening socket right after retitling itself

    def _wait_for_generation(self, generation: int) -> None:
        deadline = time.monotonic() + self.reload_timeout_s
        seen: object = None
        with http.client(timeout_s=2, retries=0) as client:
            while time.monotonic() < deadline:
                try:
                    seen = self.state(client).get("generation")
                    if seen == generation:
                        return
                except (httpx.HTTPError, ValueError):
                    pass
                time.sleep(0.05)
        raise CheckError(
            f"nginx on {self.listen} did not take config generation {generation} within {self.reload_timeout_s:g}s"
            f" (answers {seen!r}); see {self.root / 'error.log'}"
        )


def _validate(weights: Mapping[str, int]) -> dict[str, int]:
    if not weights:
        raise CheckError("router weights are empty: give at least one address with a weight above 0")
    cleaned: dict[str, int] = {}
    for address, weight in weights.items():
        if not _ADDRESS.match(address):
            raise CheckError(f"router weights: expected host:port such as 127.0.0.1:18001, got {address!r}")
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
            raise CheckError(f"router weights: weight of {address} must be an integer >= 0, got {weight!r}")
        cleaned[address] = weight
    if not any(cleaned.values()):
        raise CheckError(f"router weights {cleaned}: every weight is 0; at least one address must get traffic")
    return cleaned


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"
