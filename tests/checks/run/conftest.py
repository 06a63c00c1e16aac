"""The release lock tests of the PostgreSQL backend run on a real cluster (``support.database``)."""

from support.database import db, pg  # noqa: F401  (fixtures)
