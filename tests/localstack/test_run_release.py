"""README command 1 for real: scripts/run-release on the local stack, a faulty build rolled back, then
the good release promoted; data written before either run survives both."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from releasegate.checks.database import migrations
from releasegate.localstack import StackConfig

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _run_release(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str, dict[str, str]]:
    tmp_path.mkdir(parents=True, exist_ok=True)  # --signoff names a file in a folder that exists
    signoff, junit = tmp_path / "signoff.md", tmp_path / "junit.xml"
    proc = subprocess.run(
        ["scripts/run-release", "-p", "no:cacheprovider", "--signoff", str(signoff), "--junitxml", str(junit),
         "--alluredir", str(tmp_path / "allure-results"), "-o", f"releasegate_journal_dir={tmp_path / 'journal'}",
         *args],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "RELEASEGATE_SKIP_IMAGES": "1"},
    )
    events = [json.loads(line) for path in (tmp_path / "journal").glob("*.jsonl")
              for line in path.read_text().splitlines()]
    finished = next((e for e in events if e.get("event") == "run_finished"), None)
    assert finished is not None, f"no run_finished in the journal: {proc.stdout[-3000:]}{proc.stderr[-2000:]}"
    return proc, signoff.read_text(), finished


def _serving(stack: StackConfig) -> str:
    version: str = httpx.get(f"{stack.router_url}/version", timeout=5).json()["version"]
    return version


def _item_names(stack: StackConfig) -> set[str]:
    with psycopg.connect(stack.owner_dsn) as conn:
        return {str(name) for (name,) in conn.execute("SELECT name FROM items")}


def test_faulty_build_is_rolled_back_then_the_release_is_promoted(stack: StackConfig, tmp_path: Path) -> None:
    proc, signoff, finished = _run_release(tmp_path / "errors", "--release", "1.1.0-errors")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert finished["decision"] == "ROLLED BACK", signoff
    assert "critical failure in The error rate stays below 5% under the release load profile" in signoff
    assert "Post-rollback checks passed: The previous version serves again, The database is back" in signoff
    assert _serving(stack) == "1.0.0"
    # downgraded to what was recorded before the release
    assert migrations.current_version(stack.owner_dsn, "alembic") == "0002"

    marker = f"written-between-runs-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack.app_dsn) as conn:
        conn.execute("INSERT INTO items (name) VALUES (%s)", (marker,))

    proc, signoff, finished = _run_release(tmp_path / "good")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert finished["decision"] == "PROMOTED", signoff
    assert "15 passed, 3 skipped" in proc.stdout  # the manual item is pending; post-rollback has nothing to do
    assert "Change approved and the deployment window announced (pending manual confirmation" in signoff
    assert _serving(stack) == "1.1.0"
    assert migrations.current_version(stack.owner_dsn, "alembic") == "0003"
    assert marker in _item_names(stack)  # the baseline reset and the release lost nothing
