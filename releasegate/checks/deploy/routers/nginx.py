"""The nginx router: nginx as a plain process in front of a service's instances (``kind: nginx``).

API (the ``TrafficRouter`` a deployment strategy needs, and what the local stack uses to run it)::

    router = Router(root=Path("/srv/nginx"))   # config and pid file there, listens on 127.0.0.1:8080
    router.start()                         # idempotent; writes a config with no backends if none exists
    router.set_weights({"127.0.0.1:18001": 100, "127.0.0.1:18002": 0},
                       colors={"blue": "127.0.0.1:18001", "green": "127.0.0.1:18002"})
    router.verify_weights({"127.0.0.1:18001": 100, "127.0.0.1:18002": 0})   # True, with the evidence in
    router.last_verification               # a CheckResult: processes, generation, the sampled answers
    router.health()                        # a CheckResult: master alive, its workers on the generation on disk
    router.weights()                       # -> {"127.0.0.1:18001": 100, "127.0.0.1:18002": 0}
    router.colors()                        # -> {"blue": "127.0.0.1:18001", "green": "127.0.0.1:18002"}
    router.switch_to("127.0.0.1:18002")    # all traffic to one address, the others kept at weight 0
    router.url                             # "http://127.0.0.1:8080"

``set_weights`` writes ``upstreams.conf`` (upstream ``demo`` with the weights: a canary at 5/95 is
``{"new": 5, "old": 95}``; weight 0 is written as ``down``, so the address stays known but gets no
traffic), checks it with ``nginx -t``, reloads nginx gracefully (``nginx -s reload``: old workers
finish their requests, the listening socket is never closed, clients get no keep-alive connection
that an old worker could close under them, so no request is dropped) and waits until a worker of
the live master answers with the new config generation. Weights are percentages by convention but
only their ratios matter to nginx. Upstreams ``blue`` and ``green`` hold the colour addresses; a
request with header ``X-Releasegate-Color: green`` goes to green whatever the weights are (smoke
tests of the standby colour through the router).

The router's health is the router's own: ``verify_weights`` is true only when the nginx master of
this config is alive, its workers answer with the config generation on disk and the weights asked
for, and every request of a sample sent through the listen port was answered by an address that
has traffic (nginx names it in ``X-Releasegate-Upstream``, the worker in ``X-Releasegate-Worker``).
A router that is down, half-dead (master gone, workers left holding the port), on a stale
generation or answered by the wrong address raises ``CheckError`` with one line saying which.
``set_weights`` starts nginx only in a folder where it never ran (the first deployment); a router
that ran there and is down now is an error, not something to paper over, except in a rollback
(``restore=True``): a router that is cleanly down is started again with the weights it restores.

Paths and the listen address reach nginx.conf only validated (``runbook.options.nginx_listen``,
``nginx_path``) and quoted. ``weights()`` and ``colors()`` read the config file nginx runs with, so
they are the truth after a crash of the process that wrote them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx

from releasegate.checks._support import http, processes
from releasegate.checks._support.processes import alive as process_alive
from releasegate.checks.deploy.routers.base import DEFAULT_ROOT, DEFAULT_SAMPLE_SIZE, RouterSettings
from releasegate.checks.errors import CheckError
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.options import nginx_listen, nginx_path

__all__ = ["COLORS", "DEFAULT_LISTEN", "DEFAULT_ROOT", "PLACEHOLDER", "Answer", "NginxProcesses", "Router",
           "process_alive"]

DEFAULT_LISTEN = "127.0.0.1:8080"
COLORS = ("blue", "green")
# Answers when no backend is configured yet, so the router is up before the first deploy.
PLACEHOLDER = "127.0.0.1:1"
UPSTREAM_HEADER = "X-Releasegate-Upstream"
UPSTREAM_TIME_HEADER = "X-Releasegate-Upstream-Time"
WORKER_HEADER = "X-Releasegate-Worker"
SAMPLE_HEADERS = {"X-Releasegate-Synthetic": "router"}
"""Sent with every sampled request, so a service can tell the router's sample from real traffic."""
SAMPLE_CONCURRENCY = 5
"""Sampled requests in flight at once: a slow backend does not make the check slow, a burst stays small."""

_ADDRESS = re.compile(r"[A-Za-z0-9.\-]+:\d{1,5}")
_SERVER = re.compile(r"^\s*server\s+(?P<address>\S+?)(?P<params>(\s+[^;]+)?);")
_UPSTREAM_SEPARATOR = re.compile(r", | : ")  # nginx joins tries with ", " and internal redirects with " : "

# The paths are quoted by _Quoted (only \ and " are special inside an nginx double-quoted string).
MAIN_CONF = """\
# Written by releasegate (checks/deploy/routers/nginx.py); the upstreams are in upstreams.conf.
daemon on;
worker_processes 1;
pid {q[nginx.pid]};
error_log {q[error.log]} warn;
{user}
events {{ worker_connections 1024; }}

http {{
    access_log {q[access.log]} combined buffer=16k flush=1s;
    client_body_temp_path {q[tmp/body]};
    proxy_temp_path {q[tmp/proxy]};
    fastcgi_temp_path {q[tmp/fastcgi]};
    uwsgi_temp_path {q[tmp/uwsgi]};
    scgi_temp_path {q[tmp/scgi]};

    include {q[upstreams.conf]};

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
            add_header {worker_header} $pid always;
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
            add_header {upstream_header} $upstream_addr always;
            add_header {upstream_time_header} $upstream_header_time always;
            add_header {worker_header} $pid always;
        }}
    }}
}}
"""


def _quote(value: str) -> str:
    """``value`` as an nginx double-quoted string: ``;``, ``{``, ``}``, spaces and quotes are plain text in it."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Quoted:
    """``q[name]`` in MAIN_CONF: the quoted path of ``name`` under the router's folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __getitem__(self, name: str) -> str:
        return _quote(str(self.root / name))


@dataclass(frozen=True)
class NginxProcesses:
    """The processes of one router, found through psutil."""

    master: int | None
    """The nginx master of this router's config (from its pid file), None when it is not running."""
    workers: list[int] = field(default_factory=list)
    """The master's workers that take new connections."""
    retiring: list[int] = field(default_factory=list)
    """The master's workers of an earlier generation, finishing their requests after a reload."""
    orphans: list[int] = field(default_factory=list)
    """nginx workers holding the listen port while no master runs: a master that died left them."""
    others: list[int] = field(default_factory=list)
    """Any other process holding the listen port while no master runs."""


@dataclass(frozen=True)
class Answer:
    """One sampled request through the router."""

    status: int | None
    tried: tuple[str, ...] = ()
    """The upstream addresses nginx sent it to, in order (``X-Releasegate-Upstream``)."""
    answered_by: str | None = None
    """The address whose answer nginx passed on (the last try that sent a response header)."""
    worker: int | None = None
    error: str | None = None

    def problem(self, targets: set[str], workers: list[int]) -> str | None:
        """What is wrong with this answer for a router that should send traffic to ``targets`` only."""
        if self.error is not None:
            return f"no answer ({self.error})"
        strays = [a for a in self.tried if a not in targets and _ADDRESS.fullmatch(a)]  # not "demo": no live server
        if strays:
            return f"sent to {', '.join(strays)}, which should get no traffic (HTTP {self.status})"
        if self.answered_by is None:
            tried = f" after trying {', '.join(self.tried)}" if self.tried else ""
            return f"HTTP {self.status} from nginx itself, no backend answered{tried}"
        if self.worker not in workers:
            return f"answered through pid {self.worker}, not a worker of the live nginx master ({workers})"
        return None


@dataclass
class Router:
    NAME: ClassVar[str] = "nginx"

    root: Path = DEFAULT_ROOT
    listen: str = DEFAULT_LISTEN
    nginx: str = "/usr/sbin/nginx"
    reload_timeout_s: float = 10
    sample_size: int = DEFAULT_SAMPLE_SIZE
    sample_path: str = "/"
    last_verification: CheckResult | None = field(default=None, init=False, repr=False)
    """The evidence of the last ``verify_weights`` (what the router was seen doing, the sample)."""

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        try:
            nginx_listen(self.listen)
            nginx_path(str(self.root))
        except ValueError as exc:
            raise CheckError(f"nginx router: {exc}") from None
        if not (self.sample_path.startswith("/") and self.sample_path.isprintable() and " " not in self.sample_path):
            raise CheckError(f"nginx router: the sample path must be a URL path such as /health,"
                             f" got {self.sample_path!r}")
        if self.sample_size < 1:
            raise CheckError(f"nginx router: the sample size must be 1 or more, got {self.sample_size}")

    @classmethod
    def from_settings(cls, settings: RouterSettings) -> Router:
        if not settings.root or not settings.listen:
            raise CheckError(f"an nginx router needs root and listen; the settings say {settings.as_dict()}")
        return cls(root=Path(settings.root), listen=settings.listen, sample_size=settings.sample_size,
                   sample_path=settings.sample_path)

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

    @property
    def error_log(self) -> Path:
        return self.root / "error.log"

    @property
    def start_command(self) -> list[str]:
        return [self.nginx, "-c", str(self.conf), "-p", str(self.root)]

    # ------------------------------------------------------------------ process

    def pid(self) -> int | None:
        """The master of this router's config, from its pid file; None when no such process runs."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        cmdline = processes.cmdline(pid)
        return pid if cmdline.startswith("nginx: master process") and f" -c {self.conf} " in f"{cmdline} " else None

    def running(self) -> bool:
        """The master process runs (``health()`` says whether it works)."""
        return self.pid() is not None

    def processes(self) -> NginxProcesses:
        """The master and its workers; when no master runs, whoever holds the listen port instead."""
        master = self.pid()
        workers: list[int] = []
        retiring: list[int] = []
        for child in processes.children(master) if master is not None else []:
            title = processes.cmdline(child)
            if "shutting down" in title:
                retiring.append(child)
            elif title.startswith("nginx: worker process"):
                workers.append(child)
        if master is not None:
            return NginxProcesses(master, sorted(workers), sorted(retiring))
        # No master: who holds the port? (Listing every socket takes tens of milliseconds: only now.)
        host, _, port = self.listen.rpartition(":")
        orphans = [pid for pid in processes.titled("nginx: worker process")
                   if _orphaned(pid) and processes.listens_on(pid, int(port), host.strip("[]"))]
        others = [pid for pid in processes.listening(int(port), host.strip("[]"))
                  if pid not in orphans and not _orphaned(pid)]
        return NginxProcesses(None, orphans=orphans, others=others)

    def start(self) -> None:
        """Start nginx with this router's config (idempotent); a half-dead router is refused."""
        if shutil.which(self.nginx) is None and not Path(self.nginx).is_file():
            raise CheckError(f"{self.nginx} not found: install Debian's nginx package (scripts/setup does)")
        changed = self._write_main_conf()
        if not self.upstreams_conf.is_file():
            self._write_upstreams({PLACEHOLDER: 100}, {})
        found = self.processes()
        if found.master is not None:
            if changed:  # written by an older releasegate: take the new main config gracefully
                self.reload()
            return
        if found.orphans or found.others:
            raise CheckError(f"cannot start nginx: {self._diagnosis(found)}")
        self._test_config()
        result = subprocess.run(self.start_command, capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise CheckError(f"nginx did not start on {self.listen}: {_last_line(result.stderr)}")
        self._wait_for_generation(self._generation_on_disk())

    def stop(self) -> None:
        """Stop the master gracefully (in-flight requests finish), and any worker a dead master left behind."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGQUIT)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and process_alive(pid):
                time.sleep(0.05)
        for orphan in self.processes().orphans:
            processes.terminate(orphan, timeout_s=5)

    def reload(self) -> None:
        """Take the config on disk: a graceful reload, confirmed by a worker of the same master."""
        self._test_config()
        found = self.processes()
        if found.master is None:
            raise CheckError(f"cannot reload: {self._diagnosis(found)}")
        result = subprocess.run([*self.start_command, "-s", "reload"], capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise CheckError(f"nginx -s reload failed: {_last_line(result.stderr)}")
        self._wait_for_generation(self._generation_on_disk(), master=found.master)
        self._wait_for_old_workers(found.workers)

    # ------------------------------------------------------------------ health

    def health(self, client: httpx.Client | None = None) -> CheckResult:
        """Is this router up: its master alive, with workers, answering with the config generation on disk?

        Never raises; a failed result's ``observed`` is the one line saying what is wrong, its
        evidence the processes seen and what nginx answered.
        """
        if client is None:
            with self._client(timeout_s=2) as own:
                return self.health(own)
        name = f"router nginx on {self.listen}"
        expected = "master alive, its workers answering with the config generation on disk"
        found = self.processes()
        evidence: dict[str, Any] = {"processes": asdict(found), "config": str(self.conf)}
        problem = self._diagnosis(found)
        if problem is not None:
            return CheckResult.fail(name, problem, expected, evidence=evidence)
        try:
            state, worker = self._ask_state(client)
        except (httpx.HTTPError, ValueError) as exc:
            return CheckResult.fail(name, f"nginx master pid {found.master} runs but {self.url}/__router does not"
                                          f" answer ({type(exc).__name__}: {exc}); see {self.error_log}",
                                    expected, evidence=evidence)
        generation, on_disk = state.get("generation"), self._generation_on_disk()
        evidence.update(state=state, answered_by=worker, generation_on_disk=on_disk)
        if worker not in found.workers:
            return CheckResult.fail(name, f"{self.url} was answered through pid {worker}, not by a worker of the"
                                          f" nginx master pid {found.master} (workers {found.workers})",
                                    expected, evidence=evidence)
        if generation != on_disk:
            return CheckResult.fail(name, f"nginx on {self.listen} runs config generation {generation}, but"
                                          f" {self.upstreams_conf} holds generation {on_disk}: the last reload"
                                          f" did not take; see {self.error_log}", expected, evidence=evidence)
        return CheckResult.ok(name, f"up: master pid {found.master}, worker {', '.join(map(str, found.workers))},"
                                    f" config generation {on_disk}", expected, evidence=evidence)

    def verify(self, weights: Mapping[str, int]) -> CheckResult:
        """Does this router run with exactly ``weights``, proven by its processes, its generation and a sample?

        Never raises. Evidence: what ``health()`` saw, and ``sample``: the requests sent through the
        listen port (``sample_size`` of them to ``sample_path``), counted by the address that answered.
        """
        intended = dict(weights)
        name = f"router nginx on {self.listen} runs weights {intended}"
        expected = "every sampled request answered by an address with weight > 0"
        with self._client(timeout_s=max(self.reload_timeout_s, 2), headers=SAMPLE_HEADERS) as client:
            health = self.health(client)
            evidence = dict(health.evidence)
            if not health.passed:
                return CheckResult.fail(name, health.observed, expected, evidence={**evidence, "problem": "health"})
            on_disk = self.weights()
            if on_disk != intended:
                return CheckResult.fail(name, f"{self.upstreams_conf} holds weights {on_disk}", expected,
                                        evidence={**evidence, "problem": "weights"})
            running = evidence["state"].get("weights")
            if running != intended:
                return CheckResult.fail(name, f"nginx runs weights {running} in config generation"
                                              f" {evidence['state'].get('generation')}", expected,
                                        evidence={**evidence, "problem": "state"})
            targets = {a for a, w in intended.items() if w > 0 and a != PLACEHOLDER}
            if not targets:
                return CheckResult.ok(name, "no backend: nothing to sample", expected, evidence=evidence)
            answers = self._sample(client)
        workers = evidence["processes"]["workers"]
        counts = Counter(a.answered_by or (f"HTTP {a.status}" if a.error is None else "no answer") for a in answers)
        evidence["sample"] = {"requests": len(answers), "path": self.sample_path, "answered_by": dict(counts),
                              "workers": sorted({a.worker for a in answers if a.worker is not None})}
        wrong = [(a, p) for a in answers if (p := a.problem(targets, workers)) is not None]
        if wrong:
            return CheckResult.fail(
                name, f"{len(wrong)} of {len(answers)} requests through {self.url}{self.sample_path} were not"
                      f" answered by {', '.join(sorted(targets))}: {wrong[0][1]}", expected,
                evidence={**evidence, "problem": "sample"})
        shown = ", ".join(f"{count} by {address}" for address, count in sorted(counts.items()))
        return CheckResult.ok(name, f"config generation {evidence['state'].get('generation')}; {len(answers)} of"
                                    f" {len(answers)} sampled requests answered ({shown})", expected,
                              evidence=evidence)

    # ------------------------------------------------------------------ weights

    def set_weights(self, weights: Mapping[str, int], colors: Mapping[str, str] | None = None, *,
                    restore: bool = False) -> dict[str, int]:
        """Route traffic to ``weights`` (address -> relative weight, 0 = no traffic); reload; return them.

        ``restore`` (a rollback): a router that ran here and is cleanly down (no worker left on its port)
        is started again with these weights, so that the previous version serves again.
        """
        cleaned = _validate(weights)
        if colors is None:
            colors = {c: a for c, a in self.colors().items() if a in cleaned}
        for color, address in colors.items():
            if color not in COLORS:
                raise CheckError(f"router colour must be one of {COLORS}, got {color!r}")
            if not _ADDRESS.fullmatch(address):
                raise CheckError(f"router colour {color}: expected host:port, got {address!r}")
        self.root.mkdir(parents=True, exist_ok=True)
        found = self.processes()
        if found.master is None:
            ran_here = self.upstreams_conf.is_file()
            if (ran_here and not restore) or found.orphans or found.others:
                raise CheckError(f"cannot set router weights: {self._diagnosis(found)}")
            if ran_here:  # restore: start it again with the weights the rollback puts back
                self._write_main_conf()
                self._write_upstreams(cleaned, dict(colors))
                self.start()
                return self.weights()
            self.start()  # nginx never ran in this folder: the first deployment brings it up
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
        """Does nginx run with exactly these weights (every address listed, 0 = down), proven by ``verify``?

        True when it does (``last_verification`` holds the evidence); False when its config file
        holds other weights; ``CheckError`` with one line when the router is down, half-dead, runs
        another config generation or weights, or a sampled request was answered by an address
        without traffic (or by none).
        """
        result = self.verify(weights)
        self.last_verification = result
        if result.passed:
            return True
        if result.evidence.get("problem") == "weights":
            return False
        raise CheckError(str(result.observed))

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
            with self._client(timeout_s=2) as own:
                return self.state(own)
        return self._ask_state(client)[0]

    # ------------------------------------------------------------------ private

    def _client(self, timeout_s: float, headers: dict[str, str] | None = None) -> httpx.Client:
        # The router speaks plain HTTP: no CA bundle to load (that alone takes ~0.1 s per client).
        return http.client(timeout_s=timeout_s, retries=0, verify=False, headers=headers)

    def _ask_state(self, client: httpx.Client) -> tuple[dict[str, object], int | None]:
        """GET /__router: the state nginx was configured with, and the pid of the worker that answered."""
        response = client.get(f"{self.url}/__router").raise_for_status()
        data = response.json()
        if not isinstance(data, dict):
            raise ValueError(f"/__router answered {data!r}, not the router's state")
        return data, _pid(response.headers.get(WORKER_HEADER))

    def _sample(self, client: httpx.Client) -> list[Answer]:
        def one(_: int) -> Answer:
            try:
                response = client.get(f"{self.url}{self.sample_path}")
            except httpx.HTTPError as exc:
                return Answer(None, error=f"{type(exc).__name__}: {exc}")
            tried = _upstream_list(response.headers.get(UPSTREAM_HEADER))
            times = _upstream_list(response.headers.get(UPSTREAM_TIME_HEADER))
            answered = [a for a, t in zip(tried, times, strict=False) if t != "-"]
            return Answer(response.status_code, tuple(tried), answered[-1] if answered else None,
                          _pid(response.headers.get(WORKER_HEADER)))

        with ThreadPoolExecutor(max_workers=min(self.sample_size, SAMPLE_CONCURRENCY)) as pool:
            return list(pool.map(one, range(self.sample_size)))

    def _diagnosis(self, found: NginxProcesses) -> str | None:
        """One line: what is wrong with these processes for a router (None when master and workers run)."""
        if found.master is not None:
            if not found.workers:
                return (f"nginx master pid {found.master} on {self.listen} has no worker process taking"
                        f" connections; see {self.error_log}")
            return None
        if found.orphans:
            return (f"nginx on {self.listen} is half-dead: its master process is gone{self._pidfile_note()}, but"
                    f" worker pid {', '.join(map(str, found.orphans))} still holds the port and answers from the"
                    f" config it had; stop it (kill {' '.join(map(str, found.orphans))}; Router.stop and"
                    f" local-stack up do that) and start the router: {shlex.join(self.start_command)}")
        if found.others:
            holders = ", ".join(f"pid {p} ({processes.cmdline(p) or '?'})" for p in found.others)
            return f"nginx on {self.listen} is not running and {holders} holds the port"
        return (f"nginx on {self.listen} is not running (no master process for {self.conf}{self._pidfile_note()});"
                f" start it: {shlex.join(self.start_command)}")

    def _pidfile_note(self) -> str:
        try:
            return f"; {self.pidfile} names pid {int(self.pidfile.read_text().strip())}, which is not its master"
        except (OSError, ValueError):
            return ""

    def _write_main_conf(self) -> bool:
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        user = "user nobody nogroup;" if os.geteuid() == 0 else ""
        text = MAIN_CONF.format(q=_Quoted(self.root), listen=_quote(self.listen), user=user,
                                worker_header=WORKER_HEADER, upstream_header=UPSTREAM_HEADER,
                                upstream_time_header=UPSTREAM_TIME_HEADER)
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
        result = subprocess.run([self.nginx, "-t", "-q", "-c", str(self.conf), "-p", str(self.root)],
                                capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise CheckError(f"nginx rejected {self.conf}: {_last_line(result.stderr)}")

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

    def _wait_for_generation(self, generation: int, master: int | None = None) -> None:
        """Until a worker of the live master answers with ``generation``; a master that dies meanwhile fails now.

        ``master``: the pid that was signalled (a reload); None right after a start, when the pid
        file may not be written yet.
        """
        deadline = time.monotonic() + self.reload_timeout_s
        seen: object = None
        with self._client(timeout_s=2) as client:
            while time.monotonic() < deadline:
                try:
                    state, worker = self._ask_state(client)
                    seen = state.get("generation")
                except (httpx.HTTPError, ValueError):
                    worker = None
                found = self.processes()
                if master is not None and found.master != master:
                    why = self._diagnosis(found) or "another master runs now"
                    raise CheckError(f"nginx master pid {master} died while taking config generation {generation}:"
                                     f" {why}")
                if seen == generation and worker in found.workers:
                    return
                time.sleep(0.05)
        problem = self._diagnosis(self.processes())
        raise CheckError(
            f"nginx on {self.listen} did not take config generation {generation} within {self.reload_timeout_s:g}s"
            f" (answers {seen!r}){': ' + problem if problem else ''}; see {self.error_log}"
        )


def _orphaned(pid: int) -> bool:
    """An nginx worker whose master is gone (a worker of another live master is not ours to judge)."""
    ppid = processes.parent(pid)
    return (processes.cmdline(pid).startswith("nginx: worker process")
            and (ppid is None or not processes.cmdline(ppid).startswith("nginx: master process")))


def _upstream_list(value: str | None) -> list[str]:
    return [part.strip() for part in _UPSTREAM_SEPARATOR.split(value)] if value else []


def _pid(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _validate(weights: Mapping[str, int]) -> dict[str, int]:
    if not weights:
        raise CheckError("router weights are empty: give at least one address with a weight above 0")
    cleaned: dict[str, int] = {}
    for address, weight in weights.items():
        if not _ADDRESS.fullmatch(address):
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
