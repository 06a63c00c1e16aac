"""The step phrases run as feature files against real PostgreSQL, Prometheus, nginx and fake services."""

from support.database import db, pg  # noqa: F401  (fixtures)
from support.slo_stack import nginx, slo_stack  # noqa: F401  (fixtures)
