"""Daemons of the local stack started detached from this process (dockerd, Prometheus)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path


def start_detached(command: list[str], log_file: Path) -> int:
    """Start ``command`` with its output appended to ``log_file``; return its pid.

    A shell starts it in the background and exits, so its parent becomes init: it outlives this
    process and never lingers as this process's zombie.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["sh", "-c", f"{shlex.join(command)} >>{shlex.quote(str(log_file))} 2>&1 </dev/null & echo $!"],
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
    )
    return int(result.stdout.strip())
