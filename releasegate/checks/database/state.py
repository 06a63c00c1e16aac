"""The database state of one run, kept as JSON beside the run journal so every worker (and a later
``--rollback-only``) sees what an earlier scenario recorded: the revision before the release,
the verified backup, the data fingerprint before the release, the last migration run.

The file is ``reports/journal/<run>.database.json`` (``database-state.json`` when no journal
is open); the fingerprint goes to ``<file>.fingerprint.json`` because it can be large. Updates
hold the file's lock (``<file>.lock``, filelock) and replace the file atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from releasegate.checks.database.backup import BackupRecord
from releasegate.checks.database.fingerprint import Fingerprint
from releasegate.checks.database.migrations import MigrationRun
from releasegate.checks.run.journal import Journal

DEFAULT_NAME = "database-state.json"


@dataclass
class DatabaseState:
    database: str = ""
    revision_before: str | None = None
    revision_before_known: bool = False  # None is a real revision ("never migrated") once this is true
    backup: BackupRecord | None = None
    fingerprint_path: str | None = None
    migration: MigrationRun | None = None
    rollbacks: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "revision_before": self.revision_before,
            "revision_before_known": self.revision_before_known,
            "backup": self.backup.to_dict() if self.backup else None,
            "fingerprint_path": self.fingerprint_path,
            "migration": self.migration.to_dict() if self.migration else None,
            "rollbacks": list(self.rollbacks),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatabaseState:
        return cls(
            database=str(data.get("database") or ""),
            revision_before=data.get("revision_before"),
            revision_before_known=bool(data.get("revision_before_known")),
            backup=BackupRecord.from_dict(data["backup"]) if data.get("backup") else None,
            fingerprint_path=data.get("fingerprint_path"),
            migration=MigrationRun.from_dict(data["migration"]) if data.get("migration") else None,
            rollbacks=list(data.get("rollbacks") or []),
        )

    def record_revision_before(self, revision: str | None) -> None:
        """The first revision recorded in a run is the one a downgrade returns to; later ones do not move it."""
        if not self.revision_before_known:
            self.revision_before = revision
            self.revision_before_known = True

    def fingerprint_before(self) -> Fingerprint | None:
        """The fingerprint recorded before the release, else the backup's (same moment as the dump)."""
        for path in (self.fingerprint_path, self.backup.fingerprint_path if self.backup else None):
            if path:
                try:
                    return Fingerprint.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
                except (OSError, ValueError):
                    continue
        return None


def state_path(journal_dir: Path, run_id: str | None) -> Path:
    return journal_dir / (f"{run_id}.database.json" if run_id else DEFAULT_NAME)


def state_file_for(journal: Journal | None, default_dir: Path) -> Path:
    """The run's state file: beside its journal, else ``database-state.json`` in ``default_dir``."""
    if journal is not None:
        return state_path(journal.path.parent, journal.run_id)
    return state_path(default_dir, None)


def load_state(path: Path) -> DatabaseState:
    try:
        return DatabaseState.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return DatabaseState()
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable database state ({exc}); delete it to start afresh") from None


def update_state(path: Path, change: Callable[[DatabaseState], None]) -> DatabaseState:
    """Read, change and write the state under the lock; returns the new state."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path.with_name(path.name + ".lock")):
        state = load_state(path)
        change(state)
        _replace(path, json.dumps(state.to_dict(), indent=2, default=str))
    return state


def _replace(path: Path, text: str) -> None:
    """Write ``path`` atomically: a reader sees the old content or the new, never half of it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def save_fingerprint(path: Path, fingerprint: Fingerprint) -> Path:
    """Write the fingerprint beside the state file and point the state at it."""
    target = path.with_name(path.name.removesuffix(".json") + ".fingerprint.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    _replace(target, json.dumps(fingerprint.to_dict()))

    def point(state: DatabaseState) -> None:
        state.fingerprint_path = str(target.resolve())
        state.database = state.database or fingerprint.database

    update_state(path, point)
    return target
