"""Host commands as checks: a command succeeds (exit 0), or its output contains a text.

Runbooks name the commands of their checklists in the words of the checklist (``make
validate-all``, ``alembic current``); the runbook's ``commands:`` section says what that name
runs in this environment, and a name not in it runs as written. Commands run with ``bash -c``
from the project folder, with a timeout; the evidence holds the exit code and the last lines of
output, redacted.

Under ``--dry-run`` a command runs only when the runbook marks it ``read_only: true``
(``why_not_read_only``): a command run as written, or a runbook command without the mark, may
change anything.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from releasegate.checks import secrets
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import HostCommand, Runbook

OUTPUT_TAIL = 4000
DEFAULT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Resolved:
    name: str
    run: str
    cwd: Path
    timeout_s: float
    source: str  # "runbook commands.<name>" or "as written"


def _entry(name: str, runbook: Runbook | None) -> HostCommand | None:
    return runbook.commands.get(name) if runbook is not None else None


def resolve(name: str, runbook: Runbook | None, project_root: Path) -> Resolved:
    """What ``name`` runs here: the runbook's ``commands[name]``, else ``name`` itself."""
    command = _entry(name, runbook)
    if command is None:
        return Resolved(name, name, project_root, DEFAULT_TIMEOUT_S, "as written")
    cwd = Path(command.cwd) if command.cwd else project_root
    if not cwd.is_absolute():
        cwd = project_root / cwd
    return Resolved(name, command.run, cwd, command.timeout_s, f"runbook commands.{name}")


def why_not_read_only(name: str, runbook: Runbook | None) -> str | None:
    """Why running ``name`` may change something, or None when the runbook marks it ``read_only: true``."""
    command = _entry(name, runbook)
    if command is None:
        return (f"runs {secrets.redact(name)!r} as written (not in the runbook's commands:); only a runbook"
                " command marked read_only: true runs in a dry run")
    if not command.read_only:
        return f"runs {secrets.redact(command.run)!r} (runbook commands.{name}), which is not marked read_only: true"
    return None


@dataclass(frozen=True)
class Ran:
    exit_code: int | None  # None: did not finish (timeout) or could not start
    output: str
    elapsed_s: float
    problem: str = ""


def execute(command: Resolved) -> Ran:
    started = time.monotonic()
    if not command.cwd.is_dir():
        return Ran(None, "", 0.0, f"folder {command.cwd} does not exist")
    try:
        done = subprocess.run(["bash", "-c", command.run], cwd=command.cwd, capture_output=True, text=True,
                              timeout=command.timeout_s, env={**os.environ, "RELEASEGATE": "1"}, check=False)
    except subprocess.TimeoutExpired as exc:
        output = _text(exc.stdout) + _text(exc.stderr)
        return Ran(None, output, time.monotonic() - started, f"did not finish within {command.timeout_s:g}s")
    except OSError as exc:
        return Ran(None, "", time.monotonic() - started, f"could not start bash: {exc}")
    return Ran(done.returncode, done.stdout + done.stderr, time.monotonic() - started)


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _evidence(command: Resolved, ran: Ran) -> dict[str, object]:
    return {
        "command": secrets.redact(command.run),
        "source": command.source,
        "cwd": str(command.cwd),
        "exit_code": ran.exit_code,
        "elapsed_s": round(ran.elapsed_s, 3),
        "output_tail": secrets.redact(ran.output[-OUTPUT_TAIL:]),
    }


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return secrets.redact(lines[-1][:300]) if lines else ""


def check_succeeds(command: Resolved) -> CheckResult:
    """The command exits 0."""
    name = f"command {command.name!r} succeeds"
    ran = execute(command)
    evidence = _evidence(command, ran)
    if ran.exit_code is None:
        return CheckResult.fail(name, ran.problem, "exit code 0", detail=_last_line(ran.output), evidence=evidence)
    detail = "" if ran.exit_code == 0 else _last_line(ran.output)
    return CheckResult.judge(name, ran.exit_code == 0, f"exit code {ran.exit_code}", "exit code 0",
                             detail=detail, evidence=evidence)


def check_output_contains(command: Resolved, text: str) -> CheckResult:
    """The command exits 0 and its output (stdout and stderr) contains ``text``."""
    name = f"command {command.name!r} prints {text!r}"
    ran = execute(command)
    evidence = _evidence(command, ran)
    if ran.exit_code is None:
        return CheckResult.fail(name, ran.problem, f"output containing {text!r}", evidence=evidence)
    if ran.exit_code != 0:
        return CheckResult.fail(name, f"exit code {ran.exit_code}", f"exit code 0 and output containing {text!r}",
                                detail=_last_line(ran.output), evidence=evidence)
    found = text in ran.output
    return CheckResult.judge(name, found, _last_line(ran.output) if not found else f"output contains {text!r}",
                             f"output containing {text!r}", evidence=evidence)
