"""The squawk binary (shipped by the ``squawk-cli`` package) and the rule names it knows.

squawk has no command listing its rules, but it refuses an unknown name in ``--exclude`` with
"invalid rule name X": that answer is the authority on rule names, for the runbook model (a typo is
a one-line runbook error) and for the lint.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

TIMEOUT_S = 120


def binary() -> str | None:
    """squawk beside this Python (the squawk-cli wheel installs it there), else on PATH, else None."""
    beside = Path(sys.executable).parent / "squawk"
    return str(beside) if beside.is_file() else shutil.which("squawk")


def run(arguments: list[str], *, stdin: str | None = None, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    """squawk with an argument list (never a shell); FileNotFoundError when it is not installed.

    ``cwd``: squawk reads a ``.squawk.toml`` found from its working folder upwards; the lint runs it in
    its own temporary folder, so the runbook alone says which rules apply.
    """
    found = binary()
    if found is None:
        raise FileNotFoundError("squawk not found: install the squawk-cli package (pip install squawk-cli)"
                                " beside releasegate")
    return subprocess.run([found, *arguments], input=stdin, capture_output=True, text=True, timeout=TIMEOUT_S,
                          cwd=cwd, check=False)


@functools.lru_cache(maxsize=8)
def version() -> str:
    return run(["--version"]).stdout.strip().removeprefix("squawk ").strip() or "unknown"


@functools.lru_cache(maxsize=64)
def _unknown(names: tuple[str, ...]) -> str | None:
    done = run([f"--exclude={','.join(names)}", "--stdin-filepath", "check.sql"], stdin="SELECT 1;\n")
    match = re.search(r"invalid rule name (\S+)", done.stderr)
    return match.group(1) if match else None


def unknown_rule(names: Iterable[str]) -> str | None:
    """The first of ``names`` squawk does not know, or None (also None when squawk is not installed)."""
    wanted = tuple(sorted(set(names)))
    if not wanted or binary() is None:
        return None
    return _unknown(wanted)
