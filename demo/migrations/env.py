"""Alembic environment for the demo service: URL from $DATABASE_URL; offline mode (``--sql``) prints the SQL.

PostgreSQL has transactional DDL and alembic runs the whole upgrade in one transaction here,
so a migration that fails halfway leaves the database at the revision it started from. Offline
mode connects to nothing: releasegate lints the SQL it prints before the release runs it.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool

url = os.environ.get("DATABASE_URL", "")
if url.startswith("postgresql://"):
    url = "postgresql+psycopg://" + url.removeprefix("postgresql://")

if context.is_offline_mode():
    context.configure(url=url or None, dialect_name="postgresql", literal_binds=True, transactional_ddl=True,
                      transaction_per_migration=False)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(url, poolclass=pool.NullPool, connect_args={"connect_timeout": 5})
    with engine.connect() as connection:
        context.configure(connection=connection, transactional_ddl=True, transaction_per_migration=False)
        with context.begin_transaction():
            context.run_migrations()
