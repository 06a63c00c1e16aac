"""Hosts reached through testinfra: the one ``get_host``, running a command, one line from a transport error.

A host is named by a testinfra spec: ``local://`` (this machine), ``ssh://user@host``,
``docker://container``, ``kubectl://pod?...``, ``paramiko://...``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LOCAL_SPEC = "local://"
"""This machine."""


@dataclass(frozen=True)
class CommandOutput:
    exit_code: int
    stdout: str
    stderr: str


def get_host(spec: str = LOCAL_SPEC) -> Any:
    """A testinfra host for ``spec`` (connections are made lazily, on the first command)."""
    import testinfra

    return testinfra.get_host(spec)


def run(host: Any, command: str) -> CommandOutput:
    """Run ``command`` (a shell line) on ``host``; transport errors are raised as the backend raises them."""
    result = host.run(command)
    return CommandOutput(int(result.rc), str(result.stdout), str(result.stderr))


def describe_host_error(exc: BaseException) -> str:
    """One line from an exception; testinfra's ssh backend raises with a CommandResult as argument."""
    first = exc.args[0] if exc.args else None
    text = str(getattr(first, "stderr", "") or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
