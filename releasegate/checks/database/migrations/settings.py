"""How migrations run (the runbook's ``database.migrations``) and what one run did.

Both are JSON-serializable and free of secrets: the DSN is passed separately, so the settings
can go into the run journal with the rollback that needs them.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from releasegate.checks.database.schema_version import Tool
from releasegate.checks.runbook.model import Migrations


@dataclass
class MigrationSettings:
    """How migrations run; JSON-serializable and free of secrets (the DSN is passed separately)."""

    tool: Tool = "alembic"
    run: Literal["host", "container"] = "host"
    path: str | None = None
    container: str | None = None
    image: str | None = None
    command: list[str] | None = None
    downgrade_command: list[str] | None = None
    sql_command: list[str] | None = None  # prints the pending migrations' SQL (offline mode) in the container
    timeout_s: float = 300.0
    lock_timeout_s: float = 10.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MigrationSettings:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def describe(self) -> str:
        if self.tool == "sql":
            return f"SQL files in {self.path}"
        if self.run == "container":
            return f"alembic in container {self.container or self.image}"
        return f"alembic ({self.path})"

    @property
    def in_container_only(self) -> bool:
        """alembic runs in a container and no host copy of its migrations is named (``path``)."""
        return self.run == "container" and not self.path

    def session_settings(self) -> dict[str, int]:
        """The settings of every migration session, in milliseconds: lock and statement timeouts."""
        # statement_timeout too: a migration stopped at timeout_s must not keep running on the server
        return {"lock_timeout": int(self.lock_timeout_s * 1000), "statement_timeout": int(self.timeout_s * 1000)}

    def session_options(self) -> str:
        """``PGOPTIONS`` of every migration session: lock and statement timeouts."""
        return " ".join(f"-c {name}={value}" for name, value in self.session_settings().items())

    def environment(self, dsn: str) -> dict[str, str]:
        """The process environment of a migration command: ``DATABASE_URL`` and the session options."""
        env = dict(os.environ)
        env["DATABASE_URL"] = dsn
        env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " " + self.session_options()).strip()
        return env


@dataclass
class MigrationRun:
    """What one ``upgrade head`` did; recorded in the run's database state."""

    outcome: str
    revision_before: str | None
    revision_after: str | None
    target: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    error: str = ""
    left_at_previous: bool | None = None  # after a failure: still at revision_before (transactional DDL); None: unknown
    finished_at: float = field(default_factory=time.time)
    revision_after_known: bool = True  # False: the revision could not be read afterwards (revision_after is not one)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MigrationRun:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def settings_for(config: Migrations, root: Path, version: str | None = None) -> MigrationSettings:
    """Settings from the runbook's ``database.migrations`` section; a relative path is relative to ``root``,
    ``{version}`` in the image is the release's version."""
    path = config.path
    # a container's path may name a folder inside the container: only a host folder that exists is resolved
    if path and not Path(path).is_absolute() and (config.run == "host" or (root / path).exists()):
        path = str((root / path).resolve())
    image = config.image.replace("{version}", version or "latest") if config.image else None
    return MigrationSettings(tool=config.tool, run=config.run, path=path, container=config.container, image=image,
                             command=list(config.command) if config.command else None,
                             downgrade_command=list(config.downgrade_command) if config.downgrade_command else None,
                             sql_command=list(config.sql_command) if config.sql_command else None,
                             timeout_s=float(config.timeout_s), lock_timeout_s=float(config.lock_timeout_s))
