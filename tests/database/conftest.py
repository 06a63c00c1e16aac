"""A real PostgreSQL cluster for the database stage tests, and a fresh database for each test.

One cluster per test process (port 56100 + the xdist worker number), a new database per test;
roles are created once per cluster. Migration folders are assembled from tests/database/fixtures.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from database_helpers import APP_PASSWORD, PASSWORD, READONLY_PASSWORD, Db

from releasegate.checks import secrets
from releasegate.localstack.postgres import PostgresCluster

WORK_DIR = Path("/tmp/releasegate-database")
BASE_PORT = 56100


def _worker_index() -> int:
    match = re.search(r"(\d+)$", os.environ.get("PYTEST_XDIST_WORKER", ""))
    return int(match.group(1)) if match else 0


@pytest.fixture(scope="session")
def pg() -> Iterator[PostgresCluster]:
    index = _worker_index()
    cluster = PostgresCluster(WORK_DIR / f"cluster-{index}", BASE_PORT + index, password=PASSWORD)
    if cluster.initialized():
        cluster.destroy()
    cluster.start()
    roles = (("app", APP_PASSWORD), ("reader", READONLY_PASSWORD), ("owner_like", APP_PASSWORD),
             ("migrator", APP_PASSWORD))
    for role, password in roles:
        cluster.create_role(role, password)
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def db(pg: PostgresCluster, request: pytest.FixtureRequest) -> Iterator[Db]:
    """A new, empty database named after the test (dropped afterwards)."""
    name = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:50].strip("_")
    pg.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    pg.create_database(name)
    secrets.register(PASSWORD)
    yield Db(pg, name)
    pg.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
