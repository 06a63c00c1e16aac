"""Can this machine run the local stack? Each problem is one line with what to do."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PROMETHEUS = "/usr/bin/prometheus"
_BINARIES = {"dockerd": "docker.io", "nginx": "nginx", "debootstrap": "debootstrap"}


def host_problems(debian_marker: Path = Path("/etc/debian_version")) -> list[str]:
    """What keeps this machine from running the stack, each with what to do; empty when fine."""
    problems: list[str] = []
    if not debian_marker.is_file():
        problems.append("not a Debian system: the local stack uses Debian's docker.io, postgresql, prometheus, nginx")
    if os.geteuid() != 0:
        problems.append("not root: the local stack starts dockerd and builds images with debootstrap; run as root")
    for binary, package in _BINARIES.items():
        if shutil.which(binary, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            problems.append(f"{binary} not found: apt-get install {package} (scripts/setup does)")
    if not Path(PROMETHEUS).is_file():
        problems.append(f"{PROMETHEUS} not found: apt-get install prometheus (scripts/setup does)")
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        problems.append("PostgreSQL server binaries not found: apt-get install postgresql (scripts/setup does)")
    return problems
