"""What the local stack is: ports, folders, database roles, read from a runbook (``runbooks/local.yaml``).

The runbook describes the environment as a production runbook would (database DSNs and roles,
the Prometheus URL, the router URL, the services); its typed ``stack:`` section
(``releasegate.checks.runbook.stack.LocalStack``) adds what only a stack we start needs: the data
root, the superuser and read-only passwords, the instance ports, the images to build.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releasegate.checks import secrets
from releasegate.checks._support.paths import REPO_ROOT
from releasegate.checks.errors import ConfigError
from releasegate.checks.runbook.loader import load_runbook
from releasegate.checks.runbook.model import Runbook
from releasegate.checks.runbook.stack import LocalStack
from releasegate.localstack import images

LOCAL_RUNBOOK = REPO_ROOT / "runbooks" / "local.yaml"


def _data_root(path: Path) -> Path:
    # The stack's processes are recognised by the paths on their command lines: a root reached
    # through a symlink (a second checkout sharing this stack) must name them as they were started.
    return path.resolve()


@dataclass(frozen=True)
class DbRole:
    name: str
    password: str = field(repr=False)


_READONLY = DbRole("demo_readonly", "demo-readonly-local")
DEFAULT_ROOT = _data_root(REPO_ROOT / ".stack")


@dataclass(frozen=True)
class StackConfig:
    root: Path = DEFAULT_ROOT
    pg_port: int = 55432
    pg_superuser_password: str = field(default="releasegate-local", repr=False)
    database: str = "demo"
    owner: DbRole = DbRole("demo_owner", "demo-owner-local")
    app: DbRole = DbRole("demo_app", "demo-app-local")
    readonly: DbRole = _READONLY
    prometheus_port: int = 19090
    router_listen: str = "127.0.0.1:8080"
    instance_ports: tuple[int, ...] = tuple(range(18001, 18020))
    service: str = "demo-api"
    image_versions: tuple[str, ...] = tuple(images.DEMO_BUILDS)

    @property
    def docker_log(self) -> Path:
        return self.root / "dockerd.log"

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
    def from_runbook(cls, runbook: Runbook) -> StackConfig:
        """The stack a validated runbook describes (its sections and its ``stack:``)."""
        where = f"{runbook.path or 'runbook'}"
        stack = runbook.stack or LocalStack()
        root = Path(stack.root)
        values: dict[str, Any] = {"root": _data_root(root if root.is_absolute() else REPO_ROOT / root)}
        if stack.postgres.superuser_password is not None:
            values["pg_superuser_password"] = stack.postgres.superuser_password
        database = runbook.database
        if database is not None:
            app = _login(database.dsn, f"{where}: database.dsn")
            values["pg_port"], values["database"] = app["port"], app["database"]
            values["app"] = DbRole(database.app_role or app["user"], app["password"])
            if database.admin_dsn:
                owner = _login(database.admin_dsn, f"{where}: database.admin_dsn")
                values["owner"] = DbRole(owner["user"], owner["password"])
            if database.readonly_role:
                password = stack.postgres.readonly_password
                values["readonly"] = DbRole(database.readonly_role, password or _READONLY.password)
        if stack.postgres.port is not None:
            values["pg_port"] = stack.postgres.port
        if runbook.prometheus is not None:
            values["prometheus_port"] = urllib.parse.urlsplit(runbook.prometheus.url).port or 9090
        if stack.prometheus_port is not None:
            values["prometheus_port"] = stack.prometheus_port
        router_url = runbook.deploy.router.url or (runbook.services[0].base_url if runbook.services else None)
        if router_url:
            values["router_listen"] = urllib.parse.urlsplit(router_url).netloc
        if stack.router_listen is not None:
            values["router_listen"] = stack.router_listen
        if stack.instance_ports is not None:
            values["instance_ports"] = stack.instance_ports
        if stack.images is not None:
            bad = [v for v in stack.images if v not in images.DEMO_BUILDS]
            if bad:
                raise ConfigError(
                    f"{where}: stack.images: unknown build {bad[0]!r}; known: {', '.join(images.DEMO_BUILDS)}"
                )
            values["image_versions"] = tuple(stack.images)
        if runbook.services:
            values["service"] = runbook.services[0].name
        config = cls(**values)
        for role in (config.owner, config.app, config.readonly):
            secrets.register(role.password)
        secrets.register(config.pg_superuser_password)
        return config

    @classmethod
    def load(cls, path: Path = LOCAL_RUNBOOK) -> StackConfig:
        return cls.from_runbook(load_runbook(path))


def _login(dsn: str, where: str) -> dict[str, Any]:
    """User, password, port and database of a DSN; the stack creates the role, so both must be given."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    if not params.get("user") or params.get("password") is None:
        raise ConfigError(f"{where}: the local stack needs a user and a password in the DSN")
    return {
        "user": str(params["user"]),
        "password": str(params["password"]),
        "port": int(params.get("port") or 5432),
        "database": str(params.get("dbname") or "postgres"),
    }
