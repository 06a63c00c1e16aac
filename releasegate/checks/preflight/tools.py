"""Tools installed at a minimum version, read from their ``--version`` output.

Each tool has one or more commands that print its version (``docker compose version``, then
``docker-compose --version``); the first whose program exists is used, and versions are compared
with ``packaging.version``. Commands run locally, or on another host through a ``Runner`` (see
``preflight.host.runner_for``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from packaging.version import Version

from releasegate.checks import secrets
from releasegate.checks._support.hosts import CommandOutput
from releasegate.checks.result import CheckResult


@dataclass(frozen=True)
class Runner:
    """Where commands run: ``exists(program)`` and ``run(argv)``."""

    where: str
    exists: Callable[[str], bool]
    run: Callable[[Sequence[str]], CommandOutput]


def _run_local(argv: Sequence[str]) -> CommandOutput:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return CommandOutput(124, "", f"{argv[0]} did not finish within 30s")
    except OSError as exc:
        return CommandOutput(127, "", str(exc))
    return CommandOutput(done.returncode, done.stdout, done.stderr)


LOCAL = Runner("this machine", lambda program: shutil.which(program) is not None, _run_local)

# Commands that print a tool's version, in order of preference.
VERSION_COMMANDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "docker compose": (("docker", "compose", "version"), ("docker-compose", "--version")),
    "docker-compose": (("docker-compose", "--version"), ("docker", "compose", "version")),
    "kubectl": (("kubectl", "version", "--client"),),
    "python": (("python3", "--version"), ("python", "--version")),
    "postgresql": (("psql", "--version"),),
}

_VERSION = re.compile(r"(?<![\w.])v?(\d+)\.(\d+)(?:\.(\d+))?")
_MINIMUM = re.compile(r"\d+(\.\d+)*")


def parse_version(text: str) -> Version | None:
    """The first dotted version number in a tool's output: "Docker version 28.2.2, build" -> 28.2.2."""
    match = _VERSION.search(text)
    if match is None:
        return None
    return Version(".".join(part for part in match.groups() if part is not None))


def minimum_version(text: str) -> Version:
    """ "20.10" -> 20.10; raises ValueError for anything but numbers and dots."""
    if not _MINIMUM.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not a version such as 20.10 or 2.0")
    return Version(text.strip())


def version_tuple(text: str) -> tuple[int, ...]:
    """The numbers of a minimum version: "20.10" -> (20, 10); raises ValueError like ``minimum_version``."""
    return minimum_version(text).release


def version_commands(tool: str) -> tuple[tuple[str, ...], ...]:
    return VERSION_COMMANDS.get(tool, ((*tool.split(), "--version"),))


def check_tool(tool: str, minimum: str | None = None, runner: Runner = LOCAL) -> CheckResult:
    """``tool`` is installed (on ``runner``) and, when ``minimum`` is given, at that version or later."""
    check = f"{tool} installed" + (f" at {minimum} or later" if minimum else "")
    expected = f"{tool} >= {minimum}" if minimum else f"{tool} installed"
    wanted = minimum_version(minimum) if minimum else None
    commands = version_commands(tool)
    tried: list[dict[str, object]] = []
    for argv in commands:
        if not runner.exists(argv[0]):
            tried.append({"command": " ".join(argv), "result": f"{argv[0]} not found"})
            continue
        output = runner.run(argv)
        text = (output.stdout + "\n" + output.stderr).strip()
        tried.append({"command": " ".join(argv), "exit_code": output.exit_code, "output": secrets.redact(text[-2000:])})
        if output.exit_code != 0:
            continue
        found = parse_version(text)
        evidence = {"where": runner.where, "commands": tried}
        if found is None:
            return CheckResult.unknown(check, f"no version number in the output of {' '.join(argv)!r}",
                                       expected, evidence=evidence)
        observed = f"{tool} {found}"
        if wanted is None:
            return CheckResult.ok(check, observed, expected, evidence=evidence)
        return CheckResult.judge(check, found >= wanted, observed, expected,
                                 detail="" if found >= wanted else f"upgrade {tool} to {minimum} or later",
                                 evidence=evidence)
    programs = ", ".join(sorted({argv[0] for argv in commands}))
    ran = [t for t in tried if "exit_code" in t]
    evidence = {"where": runner.where, "commands": tried}
    if not ran:
        return CheckResult.fail(check, "not installed", expected, evidence=evidence,
                                detail=f"{tool} is not installed on {runner.where}: no {programs} on PATH")
    failures = "; ".join(
        f"{t['command']!r} exited {t['exit_code']}: {str(t['output']).splitlines()[0] if t['output'] else ''}"
        for t in ran
    )
    return CheckResult.fail(check, "not available", expected, evidence=evidence,
                            detail=f"{tool} is not available on {runner.where}: {failures}")
