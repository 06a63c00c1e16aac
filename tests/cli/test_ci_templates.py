"""The CI gate templates: valid against the official schemas, the docs/ci copies current, the gate wired right."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from releasegate.cli import init

ROOT = Path(__file__).resolve().parents[2]
DOCS = {"github": ROOT / "docs" / "ci" / "github-actions.yml", "gitlab": ROOT / "docs" / "ci" / "gitlab-ci.yml"}
SCHEMAS = {"github": "vendor.github-workflows", "gitlab": "vendor.gitlab-ci"}
DOCUMENTED = {"env": "staging", "service": "app", "base_url": "http://127.0.0.1:8000", "port": 8000,
              "target": "docker", "database": True, "install": init.PLACEHOLDER_INSTALL}


def rendered(kind: str, **changes: object) -> str:
    return init.render(f"ci/{kind}.yml", **(DOCUMENTED | changes))


@pytest.mark.parametrize("kind", sorted(DOCS))
def test_the_docs_copy_is_the_template_as_init_writes_it(kind: str) -> None:
    assert DOCS[kind].read_text() == rendered(kind), f"regenerate {DOCS[kind].relative_to(ROOT)} from the template"


@pytest.mark.parametrize("kind", sorted(DOCS))
def test_every_rendering_is_valid_against_the_official_schema(kind: str, tmp_path: Path) -> None:
    files = []
    for database in (True, False):
        for install in (init.PLACEHOLDER_INSTALL, 'releasegate @ file:///srv/wheels/releasegate-0.1.0.whl'):
            path = tmp_path / f"{kind}-{database}-{len(files)}.yml"
            path.write_text(rendered(kind, database=database, install=install, env="prod-eu"))
            files.append(str(path))
    checked = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", SCHEMAS[kind], *files],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_schema_check_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(rendered("github").replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest", 1))
    checked = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", SCHEMAS["github"],
                              str(broken)], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 1, checked.stdout


def scripts(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job.get("steps", [])) + "\n".join(
        str(line) for key in ("before_script", "script") for line in job.get(key, []))


def test_github_installs_releasegate_and_takes_the_approval_from_the_environment() -> None:
    workflow = yaml.safe_load(rendered("github"))
    jobs = workflow["jobs"]
    assert workflow["permissions"]["checks"] == "write" and workflow["permissions"]["actions"] == "read"
    assert workflow["env"]["RELEASEGATE"] == init.PLACEHOLDER_INSTALL
    gate = jobs["release-gate"]
    assert gate["needs"] == "dry-run" and gate["environment"] == "${{ inputs.environment }}"
    assert "github.triggering_actor" not in rendered("github")
    assert "/approvals" in scripts(gate) and "RELEASEGATE_APPROVED_BY" in scripts(gate)
    assert gate["env"]["DB_PASSWORD"] == "${{ secrets.DB_PASSWORD }}"
    assert gate["outputs"]["exit_code"] == "${{ steps.gate.outputs.exit_code }}"
    for job in jobs.values():
        assert 'python -m pip install "$RELEASEGATE"' in scripts(job) and "scripts/setup" not in scripts(job)
    uploads = [step for step in gate["steps"] if str(step.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and uploads[0]["if"] == "always()" and uploads[0]["with"]["path"] == "reports/"
    recovery = jobs["rollback-only"]
    assert recovery["needs"] == "release-gate" and "needs.release-gate.outputs.exit_code == ''" in recovery["if"]
    assert "--rollback-only" in scripts(recovery) and recovery["environment"] == "${{ inputs.environment }}"
    for code, word in (("0", "PROMOTED"), ("1", "ROLLED BACK"), ("10", "HALTED"), ("11", "ROLLBACK FAILED"),
                       ("12", "PASSED")):
        assert f"{code}) " in scripts(gate) and word in scripts(gate)


def test_gitlab_protects_the_gate_and_recovers_only_a_gate_that_died() -> None:
    pipeline = yaml.safe_load(rendered("gitlab"))
    gate = pipeline["releasegate-gate"]
    assert gate["environment"]["name"] == "$RELEASE_ENV" and gate["when"] == "manual"
    assert gate["variables"]["RELEASEGATE_APPROVED_BY"] == "$GITLAB_USER_LOGIN"
    assert gate["artifacts"]["when"] == "always" and gate["artifacts"]["reports"]["junit"] == "reports/junit.xml"
    assert 'python -m pip install "$RELEASEGATE"' in scripts(pipeline[".releasegate"])
    assert "scripts/setup" not in rendered("gitlab")
    recovery = pipeline["releasegate-rollback-only"]
    assert recovery["when"] == "on_failure" and recovery["needs"] == [{"job": "releasegate-gate", "artifacts": True}]
    assert pipeline["stages"].index(recovery["stage"]) > pipeline["stages"].index(gate["stage"])
    assert "reports/gate-exit-code" in scripts(gate) and "reports/gate-exit-code" in scripts(recovery)
    assert "--rollback-only" in scripts(recovery)
