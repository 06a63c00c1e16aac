"""The README is the code's own: its step phrases and its map of the plugins and packages."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_step_table_is_in_sync() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "update-readme-steps"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_readme_names_the_two_setup_commands_and_ci_uses_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "`scripts/run-release`" in readme and "`scripts/run-tests`" in readme
    assert "scripts/run-tests" in (ROOT / ".ci" / "run").read_text()


def _how_a_run_works() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("## How a run works", 1)[1].split("\n## ", 1)[0]


def test_how_a_run_works_names_every_registered_plugin_and_only_those() -> None:
    from releasegate import plugins

    registered = {name.rsplit(".", 1)[1] for name in plugins.PLUGINS}
    named = set(re.findall(r"^  plugins/(\w+)", _how_a_run_works(), re.M))
    assert named == registered, f"README names {sorted(named - registered)}, misses {sorted(registered - named)}"


def test_the_folder_tables_name_folders_that_exist_and_every_library_package() -> None:
    section = _how_a_run_works()
    named = re.findall(r"^\| `([^`]+)/` \|", section, re.M)
    made_by_runs = {"reports"}  # git-ignored: a run creates it
    for folder in set(named) - made_by_runs:
        assert (ROOT / "releasegate" / folder).is_dir() or (ROOT / folder).is_dir(), f"README names {folder}/"
    packages = {p.parent.relative_to(ROOT / "releasegate").as_posix()
                for p in (ROOT / "releasegate").glob("*/*/__init__.py")
                if p.parent.parent.name == "checks"} | {"plugins", "steps", "load", "localstack"}
    missing = packages - set(named)
    assert not missing, f"README's folder table misses {sorted(missing)}"
