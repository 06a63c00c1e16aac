"""The local stack says clearly, in one line each, why this machine cannot run it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from releasegate.checks.errors import CheckError
from releasegate.localstack import StackConfig, host_problems, up

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_not_root_not_debian_and_missing_docker_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_which = shutil.which
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(
        shutil, "which", lambda name, path=None: None if name == "dockerd" else real_which(name, path=path)
    )
    problems = host_problems(debian_marker=tmp_path / "debian_version")
    assert any(p.startswith("not a Debian system") for p in problems), problems
    assert any(p.startswith("not root:") and "run as root" in p for p in problems), problems
    assert "dockerd not found: apt-get install docker.io (scripts/setup does)" in problems
    assert all("\n" not in p for p in problems)


def test_up_refuses_with_one_line_and_starts_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    config = StackConfig(root=tmp_path / "stack")
    with pytest.raises(CheckError, match=r"^the local stack cannot run here: .*not root: ") as info:
        up(config, log=lambda _: None)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "stack").exists()


def test_usage_of_the_script() -> None:
    result = subprocess.run([str(REPO_ROOT / "scripts" / "local-stack")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == ("usage: scripts/local-stack up|down|status|images [--no-images]"
                                     " | reset VERSION | quiet")
    wrong = subprocess.run([str(REPO_ROOT / "scripts" / "local-stack"), "reset"], capture_output=True, text=True,
                           timeout=60)
    assert wrong.returncode == 2 and wrong.stderr.startswith("usage: ")
