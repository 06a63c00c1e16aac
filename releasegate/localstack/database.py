"""The stack's PostgreSQL: one cluster in ``<root>/pg``, the demo database and three least-privilege roles.

The owner role owns the database and runs the migrations; the app role (the service's
``DATABASE_URL``) gets DML on the owner's tables, the read-only role SELECT: seed 000's grants, as
default privileges so that tables created later are covered. Tests get databases of their own
with the same grants (``prepare``) and drop them afterwards (``drop``).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from releasegate.checks import secrets
from releasegate.checks._support.docker import docker_client
from releasegate.checks.errors import CheckError
from releasegate.localstack import images
from releasegate.localstack.component import ComponentStatus, Log, say
from releasegate.localstack.config import StackConfig
from releasegate.localstack.instances import LABEL
from releasegate.localstack.postgres import PostgresCluster

_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def cluster(config: StackConfig) -> PostgresCluster:
    return PostgresCluster(config.pg_dir, config.pg_port, password=config.pg_superuser_password)


def ensure(config: StackConfig, log: Log = say) -> PostgresCluster:
    """The cluster running, the database and its three roles in place (skipped when a stamp says so)."""
    pg = cluster(config)
    if not pg.initialized():
        log(f"creating the PostgreSQL cluster in {config.pg_dir}")
    if not (pg.initialized() and pg.running()):
        pg.start()
    stamp = config.pg_dir / ".releasegate-roles"
    wanted = _fingerprint(config.database, config.owner, config.app, config.readonly, "owner-member-of-app-and-ro")
    if stamp.is_file() and stamp.read_text() == wanted:
        return pg
    for role in (config.owner, config.app, config.readonly):
        pg.create_role(role.name, role.password)
    prepare(config, config.database, pg)
    stamp.write_text(wanted)
    return pg


def prepare(config: StackConfig, name: str, pg: PostgresCluster | None = None) -> None:
    """Create database ``name`` owned by the owner role, with the least-privilege grants (idempotent)."""
    from psycopg import sql

    if not _DATABASE_NAME.match(name):
        raise CheckError(f"database name {name!r}: use lower-case letters, digits and underscores")
    pg = pg or cluster(config)
    database = sql.Identifier(name)
    owner, app, ro = (sql.Identifier(role.name) for role in (config.owner, config.app, config.readonly))
    pg.create_database(name, owner=config.owner.name)
    # The owner may SET ROLE to the other two: that is how the privilege checks try DML and DDL
    # as the application and read-only roles without knowing their passwords.
    pg.psql(sql.SQL("GRANT {}, {} TO {};").format(app, ro, owner))
    pg.psql(
        sql.SQL(
            "ALTER DATABASE {db} OWNER TO {owner}; REVOKE ALL ON DATABASE {db} FROM PUBLIC;"
            " GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {app}; GRANT CONNECT ON DATABASE {db} TO {ro};"
        ).format(db=database, owner=owner, app=app, ro=ro)
    )
    pg.psql(
        sql.SQL(
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
            " GRANT USAGE, CREATE ON SCHEMA public TO {owner};"
            " GRANT USAGE ON SCHEMA public TO {app}, {ro};"
            " ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public"
            " GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app};"
            " ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app};"
            " ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT SELECT ON TABLES TO {ro};"
            " GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app};"
            " GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app};"
            " GRANT SELECT ON ALL TABLES IN SCHEMA public TO {ro};"
        ).format(owner=owner, app=app, ro=ro),
        database=name,
    )


def drop(config: StackConfig, name: str) -> None:
    if name == config.database:
        raise CheckError(f"refusing to drop the stack's own database {name!r}")
    cluster(config).drop_database(name)


def migrate(
    config: StackConfig,
    version: str,
    client: Any | None = None,
    *,
    database: str | None = None,
    timeout_s: float = 120,
) -> tuple[int, str]:
    """``migrate`` with the image of ``version`` as the owner role; returns (exit code, redacted output)."""
    client = client or docker_client()
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


def stop(config: StackConfig) -> None:
    pg = cluster(config)
    if pg.initialized():
        pg.stop()


def status(config: StackConfig) -> ComponentStatus:
    pg = cluster(config)
    running = pg.initialized() and pg.running()
    state = "" if running else " (not running)" if pg.initialized() else " (no cluster yet)"
    return ComponentStatus(
        "postgresql", running, f"127.0.0.1:{config.pg_port} database {config.database}, data {config.pg_dir}{state}"
    )


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()
