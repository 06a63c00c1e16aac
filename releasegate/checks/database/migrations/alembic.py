"""alembic migrations: on the host, or inside the service's container (``container``).

On the host it runs ``python -m alembic -c <ini> upgrade head`` with the DSN in the
``DATABASE_URL`` environment variable (the env.py convention of the demo service), never on the
command line. ``path`` is an ``alembic.ini``, or a folder holding one, or a script folder with
``env.py`` (an ini naming it is written to a temporary file). In a container it runs
``python -m alembic upgrade head`` (or the runbook's ``command``); the container uses its own
database settings. A downgrade without a ``downgrade_command`` runs on the host from the host
copy of the migrations (``path``).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from releasegate.checks import secrets
from releasegate.checks._support import shell
from releasegate.checks.database import connection as dbconn
from releasegate.checks.database.migrations import container
from releasegate.checks.database.migrations.settings import MigrationSettings

DEFAULT_CONTAINER_COMMAND = ("python", "-m", "alembic", "upgrade", "head")
DEFAULT_DOWNGRADE_COMMAND = ("python", "-m", "alembic", "downgrade", "{revision}")


@contextmanager
def _ini(settings: MigrationSettings) -> Iterator[Path]:
    """The alembic.ini to run with: the runbook's, or a temporary one naming the script folder."""
    if not settings.path:
        raise dbconn.DatabaseError("database.migrations.path is not set: name the alembic.ini or migrations folder")
    path = Path(settings.path)
    if path.is_file():
        yield path
        return
    if (path / "alembic.ini").is_file():
        yield path / "alembic.ini"
        return
    if not (path / "env.py").is_file():
        raise dbconn.DatabaseError(
            f"database.migrations.path {path} is neither an alembic.ini nor a folder with alembic.ini or env.py")
    with tempfile.TemporaryDirectory(prefix="releasegate-alembic-") as folder:
        ini = Path(folder) / "alembic.ini"
        ini.write_text(f"[alembic]\nscript_location = {path.resolve()}\n", encoding="utf-8")
        yield ini


def _script_directory(settings: MigrationSettings) -> Any:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    with _ini(settings) as ini:
        config = Config(str(ini))
        try:
            script = ScriptDirectory.from_config(config)
            script.get_heads()  # imports every revision: a broken script fails here, with its name
            return script
        except Exception as exc:
            raise dbconn.DatabaseError(
                f"broken migration scripts in {settings.path}: {type(exc).__name__}: {dbconn.reason(exc)}") from None


def heads(settings: MigrationSettings) -> list[str]:
    """The revision(s) that ``upgrade head`` reaches: from the scripts, else from ``alembic heads`` in the container."""
    if settings.in_container_only:
        done = container.exec_in_container(settings, ["python", "-m", "alembic", "heads"], timeout=60)
        if done.returncode != 0:
            raise dbconn.DatabaseError(f"alembic heads in container {settings.container}: "
                                       f"{last_error_line(done.stderr)}")
        return sorted(line.split()[0] for line in done.stdout.splitlines() if line.strip())
    return sorted(_script_directory(settings).get_heads())


def revisions_after(settings: MigrationSettings, current: str | None) -> list[str]:
    """The revisions between ``current`` (None: base) and the heads, oldest first."""
    script = _script_directory(settings)
    revisions = script.iterate_revisions("heads", current.split(",") if current else "base")
    return [r.revision for r in reversed(list(revisions))]


def ancestors(settings: MigrationSettings, version: str) -> set[str]:
    """Every revision at or below ``version`` (empty when the scripts do not know it)."""
    try:
        script = _script_directory(settings)
        return {r.revision for r in script.iterate_revisions(version.split(","), "base")}
    except Exception:
        return set()


def one_below(settings: MigrationSettings, head: str) -> str | None:
    revision = _script_directory(settings).get_revision(head)
    down = revision.down_revision if revision is not None else None
    if isinstance(down, tuple):
        return ",".join(sorted(down))
    return str(down) if down is not None else None


def run(dsn: str, settings: MigrationSettings, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``alembic upgrade head`` or ``alembic downgrade <revision>``, where the settings say it runs."""
    host_downgrade = arguments[0] == "downgrade" and not settings.downgrade_command and bool(settings.path)
    if settings.run == "container" and not host_downgrade:
        if arguments[0] == "upgrade":
            command = list(settings.command or DEFAULT_CONTAINER_COMMAND)
        else:
            template = settings.downgrade_command or DEFAULT_DOWNGRADE_COMMAND
            command = shell.fill_argv(template, {"revision": arguments[1]})
        return container.run(dsn, settings, command, timeout=settings.timeout_s)
    with _ini(settings) as ini:
        return subprocess.run([sys.executable, "-m", "alembic", "-c", str(ini), *arguments],
                              capture_output=True, text=True, env=settings.environment(dsn),
                              timeout=settings.timeout_s, cwd=str(ini.parent), check=False)


def last_error_line(stderr: str) -> str:
    """The line of a traceback that says what went wrong (``SomeError: message``)."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(("[SQL:", "(Background", "[parameters:")):
            continue
        if ("Error" in line or "error" in line or "FAILED" in line) and not line.startswith("File "):
            return secrets.redact(line)
    return secrets.redact(lines[-1]) if lines else "failed without a message"


def error(done: subprocess.CompletedProcess[str]) -> str:
    """"" when the command succeeded, else the one-line reason it failed."""
    return dbconn.reason(last_error_line(done.stderr or done.stdout)) if done.returncode else ""


def output(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The tails of the command's output, redacted, for the evidence."""
    return {"stdout": secrets.redact(done.stdout[-3000:]), "stderr": secrets.redact(done.stderr[-6000:])}
