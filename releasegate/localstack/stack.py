"""The local stack: what ``--env local`` deploys to, all on 127.0.0.1, owned by this checkout.

    component        where                                   state
    Docker engine    dockerd (Debian's docker.io)            started when not running, never stopped
    PostgreSQL       127.0.0.1:55432, database ``demo``      .stack/pg          (checks.pgcluster)
    Prometheus       127.0.0.1:19090, scrapes every 1s       .stack/prometheus  (config, rules, data, log)
    router (nginx)   127.0.0.1:8080                          .stack/nginx       (checks.router)
    images           releasegate-base, releasegate-demo:*    .stack/images      (checks.images)
    demo instances   containers on ports 18001-18019, host networking, started by the deploy stage

Everything is read from the runbook (``runbooks/local.yaml``): the database DSNs and roles, the
Prometheus URL, the router URL, the target's ports, and the free-form ``stack:`` section (data
root, superuser and read-only passwords, instance ports, images to build). ``up()`` is idempotent
and takes a second or two when everything already runs; ``down()`` stops what ``up()`` started
except the Docker engine (shared with other work on the machine) and removes the demo containers
on the stack's ports.

Prometheus finds the demo containers through Docker service discovery: any container with the
label ``org.releasegate.port`` whose port is one of the stack's instance ports is scraped at
``127.0.0.1:<port>/metrics``; its labels ``org.releasegate.service`` and ``org.releasegate.colour``
become the series labels ``service`` and ``colour``. ``instance_labels()`` returns such labels.

CLI: ``python -m checks.localstack up|down|status|images`` (``scripts/local-stack`` wraps it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releasegate.checks import secrets
from releasegate.checks._support.paths import REPO_ROOT
from releasegate.checks.deploy.routers.nginx import PLACEHOLDER, Router, process_alive
from releasegate.checks.errors import CheckError, ConfigError
from releasegate.localstack import images
from releasegate.localstack.postgres import PostgresCluster

LOCAL_RUNBOOK = REPO_ROOT / "runbooks" / "local.yaml"
LABEL = "org.releasegate"
PROMETHEUS = "/usr/bin/prometheus"

Log = Callable[[str], None]


def _say(message: str) -> None:
    print(f"local-stack: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class DbRole:
    name: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class StackConfig:
    root: Path = REPO_ROOT / ".stack"
    pg_port: int = 55432
    pg_superuser_password: str = field(default="releasegate-local", repr=False)
    database: str = "demo"
    owner: DbRole = DbRole("demo_owner", "demo-owner-local")
    app: DbRole = DbRole("demo_app", "demo-app-local")
    readonly: DbRole = DbRole("demo_readonly", "demo-readonly-local")
    prometheus_port: int = 19090
    router_listen: str = "127.0.0.1:8080"
    instance_ports: tuple[int, ...] = tuple(range(18001, 18020))
    service: str = "demo-api"
    image_versions: tuple[str, ...] = tuple(images.DEMO_BUILDS)
    docker_log: Path = field(default=REPO_ROOT / ".stack" / "dockerd.log")

    @property
    def pg_dir(self) -> Path:
        return self.root / "pg"

    @property
    def prometheus_dir(self) -> Path:
        return self.root / "prometheus"

    @property
    def nginx_dir(self) -> Path:
        return self.root / "nginx"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def router_url(self) -> str:
        return f"http://{self.router_listen}"

    def dsn(self, role: DbRole, database: str | None = None) -> str:
        password = urllib.parse.quote(role.password, safe="")
        return f"postgresql://{role.name}:{password}@127.0.0.1:{self.pg_port}/{database or self.database}"

    @property
    def app_dsn(self) -> str:
        return self.dsn(self.app)

    @property
    def owner_dsn(self) -> str:
        return self.dsn(self.owner)

    @property
    def readonly_dsn(self) -> str:
        return self.dsn(self.readonly)

    @classmethod
    def from_runbook(cls, runbook: Any) -> StackConfig:
        """Read the stack from a validated ``checks.runbook.Runbook`` (its sections and its ``stack:``)."""
        where = f"{runbook.path or 'runbook'}"
        stack: Mapping[str, Any] = runbook.stack or {}
        known = {"kind", "root", "postgres", "instance_ports", "images", "prometheus_port", "router_listen"}
        unknown = sorted(set(stack) - known)
        if unknown:
            raise ConfigError(f"{where}: stack.{unknown[0]}: unknown field; known: {', '.join(sorted(known))}")
        values: dict[str, Any] = {}
        root = Path(str(stack.get("root", ".stack")))
        values["root"] = root if root.is_absolute() else REPO_ROOT / root
        values["docker_log"] = values["root"] / "dockerd.log"
        postgres = stack.get("postgres") or {}
        if not isinstance(postgres, Mapping):
            raise ConfigError(f"{where}: stack.postgres: expected a mapping (port, superuser_password, ...)")
        if "superuser_password" in postgres:
            values["pg_superuser_password"] = str(postgres["superuser_password"])
        database = runbook.database
        if database is not None:
            app = _dsn_parts(database.dsn, f"{where}: database.dsn")
            values["pg_port"] = app["port"]
            values["database"] = app["database"]
            values["app"] = DbRole(database.app_role or app["user"], app["password"])
            if database.admin_dsn:
                owner = _dsn_parts(database.admin_dsn, f"{where}: database.admin_dsn")
                values["owner"] = DbRole(owner["user"], owner["password"])
            if database.readonly_role:
                values["readonly"] = DbRole(
                    database.readonly_role, str(postgres.get("readonly_password", cls.readonly.password))
                )
        if "port" in postgres:
            values["pg_port"] = int(postgres["port"])
        if runbook.prometheus is not None:
            values["prometheus_port"] = urllib.parse.urlsplit(runbook.prometheus.url).port or 9090
        if "prometheus_port" in stack:
            values["prometheus_port"] = int(stack["prometheus_port"])
        router_url = runbook.deploy.router.url or (runbook.services[0].base_url if runbook.services else None)
        if router_url:
            values["router_listen"] = urllib.parse.urlsplit(router_url).netloc
        if "router_listen" in stack:
            values["router_listen"] = str(stack["router_listen"])
        if "instance_ports" in stack:
            values["instance_ports"] = _port_range(stack["instance_ports"], f"{where}: stack.instance_ports")
        if "images" in stack:
            wanted = [str(v) for v in stack["images"]]
            bad = [v for v in wanted if v not in images.DEMO_BUILDS]
            if bad:
                raise ConfigError(
                    f"{where}: stack.images: unknown build {bad[0]!r}; known: {', '.join(images.DEMO_BUILDS)}"
                )
            values["image_versions"] = tuple(wanted)
        if runbook.services:
            values["service"] = runbook.services[0].name
        for role in ("owner", "app", "readonly"):
            if role in values and "'" in values[role].password:
                raise ConfigError(f"{where}: the {role} database password must not contain a single quote")
        config = cls(**values)
        for secret in (
            config.pg_superuser_password,
            config.owner.password,
            config.app.password,
            config.readonly.password,
        ):
            secrets.register(secret)
        return config

    @classmethod
    def load(cls, path: Path = LOCAL_RUNBOOK) -> StackConfig:
        from releasegate.checks.runbook.model import load_runbook

        return cls.from_runbook(load_runbook(path))


@dataclass
class ComponentStatus:
    name: str
    running: bool
    detail: str

    def line(self) -> str:
        return f"{'up     ' if self.running else 'MISSING'}  {self.name:<16} {self.detail}"


# --------------------------------------------------------------------------- host


def host_problems(debian_marker: Path = Path("/etc/debian_version")) -> list[str]:
    """What keeps this machine from running the stack, each with what to do; empty when fine."""
    problems: list[str] = []
    if not debian_marker.is_file():
        problems.append("not a Debian system: the local stack uses Debian's docker.io, postgresql, prometheus, nginx")
    if os.geteuid() != 0:
        problems.append("not root: the local stack starts dockerd and builds images with debootstrap; run as root")
    needs = {
        "dockerd": "docker.io",
        "nginx": "nginx",
        "debootstrap": "debootstrap",
    }
    for binary, package in needs.items():
        if shutil.which(binary, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            problems.append(f"{binary} not found: apt-get install {package} (scripts/setup does)")
    if not Path(PROMETHEUS).is_file():
        problems.append(f"{PROMETHEUS} not found: apt-get install prometheus (scripts/setup does)")
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        problems.append("PostgreSQL server binaries not found: apt-get install postgresql (scripts/setup does)")
    return problems


# --------------------------------------------------------------------------- docker engine


def docker_ready() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def ensure_dockerd(config: StackConfig, log: Log = _say, timeout_s: float = 60) -> None:
    if docker_ready():
        return
    if shutil.which("dockerd") is None:
        raise CheckError("the Docker engine is not running and dockerd is not installed: apt-get install docker.io")
    if os.geteuid() != 0:
        raise CheckError("the Docker engine is not running and only root can start dockerd; run as root")
    config.docker_log.parent.mkdir(parents=True, exist_ok=True)
    log(f"starting dockerd (log: {config.docker_log})")
    _spawn(["dockerd"], config.docker_log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if docker_ready():
            return
        time.sleep(0.5)
    raise CheckError(f"dockerd did not answer within {timeout_s:g}s; see {config.docker_log}")


# --------------------------------------------------------------------------- PostgreSQL


def postgres_cluster(config: StackConfig) -> PostgresCluster:
    return PostgresCluster(config.pg_dir, config.pg_port, password=config.pg_superuser_password)


def ensure_postgres(config: StackConfig, log: Log = _say) -> PostgresCluster:
    """The cluster, the database and three roles: owner (runs migrations), app (DML), read-only (SELECT)."""
    cluster = postgres_cluster(config)
    if not cluster.initialized():
        log(f"creating the PostgreSQL cluster in {config.pg_dir}")
    if not (cluster.initialized() and cluster.running()):
        cluster.start()
    stamp = config.pg_dir / ".releasegate-roles"
    wanted = _fingerprint(config.database, config.owner, config.app, config.readonly, "owner-member-of-app-and-ro")
    if stamp.is_file() and stamp.read_text() == wanted:
        return cluster
    for role in (config.owner, config.app, config.readonly):
        cluster.create_role(role.name, role.password)
    prepare_database(config, config.database, cluster)
    stamp.write_text(wanted)
    return cluster


def prepare_database(config: StackConfig, name: str, cluster: PostgresCluster | None = None) -> None:
    """Create database ``name`` owned by the owner role, with least-privilege grants (idempotent).

    The owner runs the migrations; the app role gets DML on the owner's tables, the read-only role
    SELECT (seed 000's grants, as default privileges so that tables created later are covered).
    """
    if not re.match(r"^[a-z_][a-z0-9_]*$", name):
        raise CheckError(f"database name {name!r}: use lower-case letters, digits and underscores")
    cluster = cluster or postgres_cluster(config)
    owner, app, ro = config.owner.name, config.app.name, config.readonly.name
    cluster.create_database(name, owner=owner)
    # The owner may SET ROLE to the other two: that is how the privilege checks try DML and DDL
    # as the application and read-only roles without knowing their passwords.
    cluster.psql(f'GRANT "{app}", "{ro}" TO "{owner}";')
    cluster.psql(
        f'ALTER DATABASE "{name}" OWNER TO "{owner}";'
        f' REVOKE ALL ON DATABASE "{name}" FROM PUBLIC;'
        f' GRANT CONNECT, TEMPORARY ON DATABASE "{name}" TO "{app}";'
        f' GRANT CONNECT ON DATABASE "{name}" TO "{ro}";'
    )
    cluster.psql(
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
        f' GRANT USAGE, CREATE ON SCHEMA public TO "{owner}";'
        f' GRANT USAGE ON SCHEMA public TO "{app}", "{ro}";'
        f' ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA public'
        f' GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{app}";'
        f' ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO "{app}";'
        f' ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA public GRANT SELECT ON TABLES TO "{ro}";'
        f' GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{app}";'
        f' GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{app}";'
        f' GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{ro}";',
        database=name,
    )


def reset(config: StackConfig, version: str, log: Log = _say) -> None:
    """Put the local environment back where a release starts: no demo containers of the runbook's
    docker targets, the router with no backend, the demo database at the schema ``version`` ships.

    ``scripts/run-release`` calls this and then installs ``version`` with features/install.feature,
    so every run on the local stack starts from the same place. Data rows stay: a downgrade of the
    demo's migrations drops columns only.
    """
    from releasegate.checks.database import connection as dbconn
    from releasegate.checks.database import migrations
    from releasegate.checks.runbook.model import load_runbook

    shipped = images.DEMO_BUILDS.get(version)
    if shipped is None:
        raise CheckError(f"unknown demo build {version!r}; known: {', '.join(images.DEMO_BUILDS)}")
    revision = Path(shipped[-1]).name.split("_", 1)[0]
    settings = migrations.MigrationSettings(tool="alembic", run="host", path=str(images.DEMO_DIR / "migrations"))
    try:  # first: a stack that is down fails here, before anything is removed
        current = migrations.current_version(config.owner_dsn, settings.tool, step="reset")
    except dbconn.DatabaseError as exc:
        raise CheckError(f"{exc}; run scripts/local-stack up") from None
    runbook = load_runbook(LOCAL_RUNBOOK)
    prefixes = tuple(f"{target.options.get('project', 'releasegate')}-{service.name}-"
                     for target in runbook.targets if target.kind == "docker" for service in runbook.services)
    client = images.docker_client()
    for container in stack_containers(config, client):
        if container.name.startswith(prefixes):
            log(f"removing container {container.name}")
            container.remove(force=True)
    router(config).set_weights({PLACEHOLDER: 100}, {})
    if current is None or current in migrations.ancestors(settings, revision):
        log(f"database {config.database} at {current or 'no schema yet'} ({version} needs {revision}):"
            " nothing to downgrade")
        return
    result = migrations.downgrade(config.owner_dsn, settings, revision, step="reset")
    if not result.passed:
        raise CheckError(result.summary())
    log(f"database {config.database} at {revision}, the schema {version} ships ({result.observed})")


def firing_alerts(config: StackConfig) -> list[str]:
    """``alertname{version}`` of every alert firing in the stack's Prometheus."""
    from releasegate.checks.slo.prometheus import PrometheusClient

    with PrometheusClient(config.prometheus_url) as client:
        alerts = client.alerts()
    return sorted(f"{a['labels'].get('alertname')}{{version={a['labels'].get('version', '')}}}"
                  for a in alerts if a.get("state") == "firing")


def wait_until_quiet(config: StackConfig, timeout_s: float = 90, log: Log = _say) -> None:
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


def drop_database(config: StackConfig, name: str) -> None:
    if name == config.database:
        raise CheckError(f"refusing to drop the stack's own database {name!r}")
    postgres_cluster(config).psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------- Prometheus


def prometheus_config(config: StackConfig) -> str:
    ports = "|".join(str(p) for p in config.instance_ports)
    directory = config.prometheus_dir
    return f"""\
# Written by checks/localstack.py.
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
  external_labels:
    stack: releasegate-local
rule_files:
  - {directory}/rules.yml
scrape_configs:
  - job_name: demo
    metrics_path: /metrics
    docker_sd_configs:
      - host: unix:///var/run/docker.sock
        refresh_interval: 1s
        host_networking_host: 127.0.0.1
        filters:
          - name: label
            values: ["{LABEL}.port"]
    file_sd_configs:
      - files: ["{directory}/targets/*.json"]
        refresh_interval: 1s
    relabel_configs:
      - source_labels: [__meta_docker_container_label_org_releasegate_port]
        regex: "(.+)"
        target_label: __address__
        replacement: "127.0.0.1:$1"
      - source_labels: [__address__]
        regex: "127\\\\.0\\\\.0\\\\.1:({ports})"
        action: keep
      - source_labels: [__meta_docker_container_label_org_releasegate_service]
        regex: "(.+)"
        target_label: service
      - source_labels: [__meta_docker_container_label_org_releasegate_colour]
        regex: "(.+)"
        target_label: colour
      - source_labels: [__meta_docker_container_name]
        regex: "/?(.+)"
        target_label: container
"""


# The seeds' example alerts, with windows short enough for a release verified in minutes.
PROMETHEUS_RULES = """\
# Written by checks/localstack.py: the example alerts of the seed runbooks.
groups:
  - name: releasegate-demo
    rules:
      - alert: HighErrorRate
        expr: >
          sum by (service, version) (rate(http_requests_total{job="demo", status=~"5.."}[30s]))
          / sum by (service, version) (rate(http_requests_total{job="demo"}[30s])) > 0.05
        for: 5s
        labels: {severity: critical}
        annotations:
          summary: "{{ $labels.service }} {{ $labels.version }}: more than 5% of requests answer 5xx"
      - alert: HighLatencyP95
        expr: >
          histogram_quantile(0.95,
            sum by (service, version, le) (rate(http_request_duration_seconds_bucket{job="demo"}[30s]))) > 1
        for: 5s
        labels: {severity: warning}
        annotations:
          summary: "{{ $labels.service }} {{ $labels.version }}: p95 latency above 1s"
      - alert: ServiceDown
        expr: up{job="demo"} == 0
        for: 5s
        labels: {severity: critical}
        annotations:
          summary: "{{ $labels.instance }} ({{ $labels.service }}) does not answer /metrics"
"""


def _prometheus_pid(config: StackConfig) -> int | None:
    pidfile = config.prometheus_dir / "prometheus.pid"
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    if state == "Z" or str(config.prometheus_dir / "prometheus.yml") not in cmdline:
        return None
    return pid


def prometheus_ready(config: StackConfig) -> bool:
    try:
        with urllib.request.urlopen(f"{config.prometheus_url}/-/ready", timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def ensure_prometheus(config: StackConfig, log: Log = _say, timeout_s: float = 60) -> None:
    directory = config.prometheus_dir
    (directory / "targets").mkdir(parents=True, exist_ok=True)
    (directory / "data").mkdir(exist_ok=True)
    changed = _write_if_changed(directory / "prometheus.yml", prometheus_config(config))
    changed = _write_if_changed(directory / "rules.yml", PROMETHEUS_RULES) or changed
    running = _prometheus_pid(config) is not None
    if running and changed:
        log("reloading Prometheus (config changed)")
        request = urllib.request.Request(f"{config.prometheus_url}/-/reload", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass
    if not running:
        if not Path(PROMETHEUS).is_file():
            raise CheckError(f"{PROMETHEUS} not found: apt-get install prometheus (scripts/setup does)")
        log(f"starting Prometheus on {config.prometheus_url} (data: {directory / 'data'})")
        pid = _spawn(
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
        (directory / "prometheus.pid").write_text(f"{pid}\n")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if prometheus_ready(config):
            return
        if _prometheus_pid(config) is None:
            raise CheckError(f"Prometheus exited at start-up: {_tail(directory / 'prometheus.log')}")
        time.sleep(0.2)
    raise CheckError(f"Prometheus on {config.prometheus_url} not ready within {timeout_s:g}s")


def stop_prometheus(config: StackConfig) -> None:
    pid = _prometheus_pid(config)
    if pid is not None:
        _terminate(pid)


# --------------------------------------------------------------------------- router, images


def router(config: StackConfig) -> Router:
    return Router(root=config.nginx_dir, listen=config.router_listen)


def ensure_router(config: StackConfig) -> Router:
    r = router(config)
    r.start()
    return r


def ensure_images(config: StackConfig, log: Log = _say) -> list[images.BuildOutcome]:
    return images.build_all(config.image_versions, log=log)


# --------------------------------------------------------------------------- demo instances


def instance_labels(config: StackConfig, port: int, version: str, colour: str | None = None) -> dict[str, str]:
    """Labels that make a demo container part of the stack: Prometheus scrapes it, ``down()`` removes it."""
    if port not in config.instance_ports:
        raise CheckError(f"port {port} is not one of the stack's instance ports {_ports_text(config.instance_ports)}")
    labels = {
        f"{LABEL}.managed": "true",
        f"{LABEL}.stack": "local",
        f"{LABEL}.service": config.service,
        f"{LABEL}.port": str(port),
        f"{LABEL}.version": version,
    }
    if colour:
        labels[f"{LABEL}.colour"] = colour
    return labels


def stack_containers(config: StackConfig, client: Any, *, all_states: bool = True) -> list[Any]:
    """Containers labelled with one of the stack's instance ports."""
    found = client.containers.list(all=all_states, filters={"label": f"{LABEL}.port"})
    ports = {str(p) for p in config.instance_ports}
    return [c for c in found if (c.labels or {}).get(f"{LABEL}.port") in ports]


def run_migrations(
    config: StackConfig,
    version: str,
    client: Any | None = None,
    *,
    database: str | None = None,
    timeout_s: float = 120,
) -> tuple[int, str]:
    """``migrate`` with the image of ``version`` as the owner role; returns (exit code, redacted output)."""
    client = client or images.docker_client()
    container = client.containers.run(
        images.demo_image(version),
        command=["migrate"],
        environment={"DATABASE_URL": config.dsn(config.owner, database)},
        network_mode="host",
        labels={f"{LABEL}.stack": "local", f"{LABEL}.role": "migrate"},
        detach=True,
    )
    try:
        status = container.wait(timeout=timeout_s)
        output = container.logs().decode("utf-8", "replace")
    finally:
        container.remove(force=True)
    return int(status.get("StatusCode", 1)), secrets.redact(output)


# --------------------------------------------------------------------------- up / down / status


def up(config: StackConfig | None = None, *, build_images: bool = True, log: Log = _say) -> list[ComponentStatus]:
    """Bring every component up (idempotent); raise CheckError naming what is missing and what to do."""
    import fcntl

    config = config or StackConfig.load()
    problems = [p for p in host_problems() if build_images or "debootstrap" not in p]
    if problems:
        raise CheckError("the local stack cannot run here: " + "; ".join(problems))
    config.root.mkdir(parents=True, exist_ok=True)
    with (config.root / "up.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers may all ask at once
        ensure_dockerd(config, log)
        ensure_postgres(config, log)
        ensure_prometheus(config, log)
        ensure_router(config)
        if build_images:
            ensure_images(config, log)
    return status(config)


def down(config: StackConfig | None = None, log: Log = _say) -> None:
    """Stop the stack's processes and remove its demo containers; the Docker engine keeps running."""
    config = config or StackConfig.load()
    if docker_ready():
        import docker

        client = docker.from_env(timeout=30)
        for container in stack_containers(config, client):
            log(f"removing container {container.name}")
            container.remove(force=True)
    router(config).stop()
    stop_prometheus(config)
    cluster = postgres_cluster(config)
    if cluster.initialized():
        cluster.stop()


def status(config: StackConfig | None = None) -> list[ComponentStatus]:
    config = config or StackConfig.load()
    found: list[ComponentStatus] = []
    engine = docker_ready()
    found.append(ComponentStatus("docker engine", engine, "dockerd answers" if engine else "dockerd not running"))
    cluster = postgres_cluster(config)
    pg_up = cluster.initialized() and cluster.running()
    found.append(
        ComponentStatus(
            "postgresql",
            pg_up,
            f"127.0.0.1:{config.pg_port} database {config.database}, data {config.pg_dir}"
            + ("" if pg_up else " (not running)" if cluster.initialized() else " (no cluster yet)"),
        )
    )
    prom = prometheus_ready(config)
    found.append(ComponentStatus("prometheus", prom, f"{config.prometheus_url}, data {config.prometheus_dir}/data"))
    r = router(config)
    weights = {a: w for a, w in r.weights().items() if a != PLACEHOLDER} if r.running() else {}
    found.append(ComponentStatus("router (nginx)", r.running(), f"{r.url}, weights {weights or '(no backend yet)'}"))
    if engine:
        client = images.docker_client()
        stale = images.missing_images(client)
        stale = [s for s in stale if s == images.BASE_IMAGE or s.split(":", 1)[1] in config.image_versions]
        found.append(
            ComponentStatus(
                "images",
                not stale,
                "all built: " + ", ".join(config.image_versions)
                if not stale
                else "missing or stale: " + ", ".join(stale),
            )
        )
        for container in stack_containers(config, client):
            labels = container.labels or {}
            health = (container.attrs.get("State", {}).get("Health") or {}).get("Status", "")
            found.append(
                ComponentStatus(
                    f"instance :{labels.get(f'{LABEL}.port')}",
                    container.status == "running",
                    f"{container.name} {labels.get(f'{LABEL}.version', '?')} {container.status} {health}".strip(),
                )
            )
    else:
        found.append(ComponentStatus("images", False, "unknown: the Docker engine is not running"))
    return found


# --------------------------------------------------------------------------- helpers


def _spawn(command: list[str], log_file: Path) -> int:
    """Start ``command`` detached from this process (its parent becomes init); return its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    quoted = " ".join(_shell_quote(part) for part in command)
    result = subprocess.run(
        ["sh", "-c", f"{quoted} >>{_shell_quote(str(log_file))} 2>&1 </dev/null & echo $!"],
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
    )
    return int(result.stdout.strip())


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _terminate(pid: int, timeout_s: float = 15) -> None:
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process_alive(pid):
        time.sleep(0.05)


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


def _fingerprint(*parts: object) -> str:
    import hashlib

    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _dsn_parts(dsn: str, where: str) -> dict[str, Any]:
    parsed = urllib.parse.urlsplit(dsn)
    if not parsed.username or parsed.password is None:
        raise ConfigError(f"{where}: the local stack needs a user and a password in the DSN")
    return {
        "user": urllib.parse.unquote(parsed.username),
        "password": urllib.parse.unquote(parsed.password),
        "port": parsed.port or 5432,
        "database": parsed.path.lstrip("/") or "postgres",
    }


def _port_range(value: Any, where: str) -> tuple[int, ...]:
    if isinstance(value, str) and re.match(r"^\d+-\d+$", value.strip()):
        low, high = (int(v) for v in value.split("-"))
        ports = tuple(range(low, high + 1))
    elif isinstance(value, list) and all(isinstance(v, int) for v in value):
        ports = tuple(value)
    else:
        raise ConfigError(f"{where}: expected a range such as '18001-18019' or a list of ports, got {value!r}")
    if not ports or any(not 1 <= p <= 65535 for p in ports):
        raise ConfigError(f"{where}: ports must be between 1 and 65535, got {value!r}")
    return ports


def _ports_text(ports: tuple[int, ...]) -> str:
    return f"{ports[0]}-{ports[-1]}" if ports == tuple(range(ports[0], ports[-1] + 1)) else ",".join(map(str, ports))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: scripts/local-stack up|down|status|images [--no-images] | reset VERSION | quiet"
    if not args or args[0] not in {"up", "down", "status", "images", "reset", "quiet"} or (
            args[0] == "reset" and len(args) != 2):
        print(usage, file=sys.stderr)
        return 2
    command = args[0]
    try:
        config = StackConfig.load()
        if command == "up":
            started = time.monotonic()
            found = up(config, build_images="--no-images" not in args)
            for item in found:
                print(item.line())
            print(f"local stack up in {time.monotonic() - started:.1f}s; router {config.router_url}")
            return 0
        if command == "down":
            down(config)
            print("local stack down (the Docker engine keeps running)")
            return 0
        if command == "reset":
            reset(config, args[1])
            return 0
        if command == "quiet":
            wait_until_quiet(config)
            return 0
        if command == "images":
            problems = [p for p in host_problems() if "nginx" not in p and "prometheus" not in p.lower()]
            if problems:
                raise CheckError("cannot build the images here: " + "; ".join(problems))
            ensure_dockerd(config)
            for outcome in images.build_all(config.image_versions):
                print(f"{'built ' if outcome.built else 'cached'}  {outcome.image}  {outcome.input_hash[:12]}")
            return 0
        found = status(config)
        for item in found:
            print(item.line())
        missing = [i.name for i in found if not i.running]
        problems = host_problems()
        for problem in problems:
            print(f"problem  {problem}")
        return 0 if not missing else 1
    except (CheckError, ConfigError) as exc:
        print(f"local-stack {command}: {secrets.redact(str(exc))}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
