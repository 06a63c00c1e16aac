"""The database tests run on a real PostgreSQL cluster (``support.database``)."""

from support.database import db, pg  # noqa: F401  (fixtures)
