"""A real PostgreSQL cluster for the database tests, a fresh database for each test, migration folders.

One cluster per test process (port 56100 + the xdist worker number), shared by every conftest
that imports the ``pg`` fixture; a new database per test (``db``); roles are created once per
cluster. Migration folders are assembled from ``migration_scripts/`` beside this module.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from releasegate.checks import secrets
from releasegate.localstack.postgres import PostgresCluster

SCRIPTS = Path(__file__).resolve().parent / "migration_scripts"
PASSWORD = "pg-test-Secret-7q"
APP_PASSWORD = "app-test-Secret-8r"
READONLY_PASSWORD = "ro-test-Secret-9s"
WORK_DIR = Path("/tmp/releasegate-database")
BASE_PORT = 56100
ROLES = (("app", APP_PASSWORD), ("reader", READONLY_PASSWORD), ("owner_like", APP_PASSWORD),
         ("migrator", APP_PASSWORD))


@dataclass
class Db:
    cluster: PostgresCluster
    name: str

    @property
    def dsn(self) -> str:
        return self.cluster.dsn_for(self.name)

    def dsn_as(self, user: str, password: str) -> str:
        return self.cluster.dsn_for(self.name, user, password)

    def sql(self, statement: str) -> str:
        return self.cluster.psql(statement, self.name)


def _worker_index() -> int:
    match = re.search(r"(\d+)$", os.environ.get("PYTEST_XDIST_WORKER", ""))
    return int(match.group(1)) if match else 0


class _SharedCluster:
    """The process's one cluster: conftests in several folders import ``pg``, and pytest makes each import a
    session fixture of its own, so the cluster is started by the first user and destroyed after the last."""

    def __init__(self) -> None:
        self.cluster: PostgresCluster | None = None
        self.users = 0

    def acquire(self) -> PostgresCluster:
        if self.cluster is None:
            index = _worker_index()
            cluster = PostgresCluster(WORK_DIR / f"cluster-{index}", BASE_PORT + index, password=PASSWORD)
            if cluster.initialized():
                cluster.destroy()
            cluster.start()
            for role, password in ROLES:
                cluster.create_role(role, password)
            self.cluster = cluster
        self.users += 1
        return self.cluster

    def release(self) -> None:
        self.users -= 1
        if self.users == 0 and self.cluster is not None:
            self.cluster.destroy()
            self.cluster = None


_SHARED = _SharedCluster()


@pytest.fixture(scope="session")
def pg() -> Iterator[PostgresCluster]:
    try:
        yield _SHARED.acquire()
    finally:
        _SHARED.release()


@pytest.fixture
def db(pg: PostgresCluster, request: pytest.FixtureRequest) -> Iterator[Db]:
    """A new, empty database named after the test (dropped afterwards)."""
    name = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:50].strip("_")
    pg.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    pg.create_database(name)
    secrets.register(PASSWORD)
    yield Db(pg, name)
    pg.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def alembic_folder(target: Path, *, third: str | None = "good") -> Path:
    """A migrations folder: env.py, 0001, 0002 and a 0003 that is "good", "broken" (fails halfway),
    "syntax" (does not import) or None (no 0003)."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(SCRIPTS / "alembic" / "env.py", target / "env.py")
    versions = target / "versions"
    versions.mkdir(exist_ok=True)
    for script in sorted((SCRIPTS / "alembic" / "versions").glob("000[12]_*.py")):
        shutil.copy(script, versions / script.name)
    if third == "good":
        shutil.copy(SCRIPTS / "alembic" / "versions" / "0003_items_description.py", versions)
    elif third == "broken":
        shutil.copy(SCRIPTS / "broken_0003_items_description.py", versions / "0003_items_description.py")
    elif third == "syntax":
        shutil.copy(SCRIPTS / "syntax_error_0003.py.txt", versions / "0003_items_description.py")
    return target


def sql_folder(target: Path, *, third: str | None = "good") -> Path:
    """SQL migrations (schema_migrations style) with rollback files; 0003 good, broken or absent."""
    target.mkdir(parents=True, exist_ok=True)
    for script in (SCRIPTS / "sql").glob("*.sql"):
        if third is None and script.name.startswith(("0003", "rollback_0003")):
            continue
        shutil.copy(script, target / script.name)
    if third == "broken":
        shutil.copy(SCRIPTS / "broken_0003_items_description.sql", target / "0003_items_description.sql")
    return target


def stop_while_migrating(cluster: PostgresCluster, db: Db, *, wait_s: float = 30) -> threading.Thread:
    """Stop the server once a migration's ``SELECT pg_sleep(30)`` runs (as a crash or a failover would)."""
    def stop() -> None:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if "1" in db.sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'"):
                break
            time.sleep(0.1)
        cluster.stop()

    thread = threading.Thread(target=stop)
    thread.start()
    return thread
