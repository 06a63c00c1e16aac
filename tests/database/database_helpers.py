"""Helpers of the database stage tests: assemble migration folders from tests/database/fixtures."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from releasegate.localstack.postgres import PostgresCluster

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PASSWORD = "pg-test-Secret-7q"
APP_PASSWORD = "app-test-Secret-8r"
READONLY_PASSWORD = "ro-test-Secret-9s"


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




def alembic_folder(target: Path, *, third: str | None = "good") -> Path:
    """A migrations folder: env.py, 0001, 0002 and a 0003 that is "good", "broken" (fails halfway),
    "syntax" (does not import) or None (no 0003)."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "alembic" / "env.py", target / "env.py")
    versions = target / "versions"
    versions.mkdir(exist_ok=True)
    for script in sorted((FIXTURES / "alembic" / "versions").glob("000[12]_*.py")):
        shutil.copy(script, versions / script.name)
    if third == "good":
        shutil.copy(FIXTURES / "alembic" / "versions" / "0003_items_description.py", versions)
    elif third == "broken":
        shutil.copy(FIXTURES / "broken_0003_items_description.py", versions / "0003_items_description.py")
    elif third == "syntax":
        shutil.copy(FIXTURES / "syntax_error_0003.py.txt", versions / "0003_items_description.py")
    return target


def sql_folder(target: Path, *, third: str | None = "good") -> Path:
    """SQL migrations (schema_migrations style) with rollback files; 0003 good, broken or absent."""
    target.mkdir(parents=True, exist_ok=True)
    for script in (FIXTURES / "sql").glob("*.sql"):
        if third is None and script.name.startswith(("0003", "rollback_0003")):
            continue
        shutil.copy(script, target / script.name)
    if third == "broken":
        shutil.copy(FIXTURES / "broken_0003_items_description.sql", target / "0003_items_description.sql")
    return target
