"""Alembic environment for the demo service: online migrations only, URL from $DATABASE_URL.

PostgreSQL has transactional DDL and alembic runs the whole upgrade in one transaction here,
so a migration that fails halfway leaves the database at the revision it started from.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool

url = os.environ.get("DATABASE_URL", "")
if url.startswith("postgresql://"):
    url = "postgresql+psycopg://" + url.removeprefix("postgresql://")

engine = create_engine(url, poolclass=pool.NullPool, connect_args={"connect_timeout": 5})
with engine.connect() as connection:
    context.configure(connection=connection, transactional_ddl=True, transaction_per_migration=False)
    with context.begin_transaction():
        context.run_migrations()
