"""The README's list of step phrases is the one the code defines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_step_table_is_in_sync() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "update-readme-steps"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_readme_names_the_two_setup_commands_and_ci_uses_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "`scripts/run-release`" in readme and "`scripts/run-tests`" in readme
    assert "scripts/run-tests" in (ROOT / ".ci" / "run").read_text()
