"""Where a release run leaves its record: Allure results and JUnit XML under reports/.

When feature files are run, Allure results go to reports/allure-results (cleaned first) and
JUnit XML to reports/junit.xml unless the command line says otherwise. The Allure folder gets
environment.properties, executor.json (from CI variables) and categories.json.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from releasegate.checks import secrets
from releasegate.plugins.environment import RUNBOOK_KEY, SELECTION_KEY
from releasegate.plugins.redaction import register_output

CATEGORIES = [
    {
        "name": "Rolled back",
        "matchedStatuses": ["failed", "broken", "skipped"],
        "messageRegex": ".*(rolled back|release halted).*",
    },
    {
        "name": "Inconclusive (needs a person)",
        "matchedStatuses": ["failed", "broken"],
        "messageRegex": ".*INCONCLUSIVE.*",
    },
    {
        "name": "Infrastructure error",
        "matchedStatuses": ["broken", "failed"],
        "messageRegex": ".*(unreachable|Connection refused|timed out|could not connect|TargetUnreachable|CheckError).*",
    },
    {"name": "Product defect", "matchedStatuses": ["failed"], "messageRegex": ".*FAIL.*"},
]


def runs_features(config: pytest.Config) -> bool:
    for arg in config.args:
        path = Path(arg.split("::")[0])
        if path.suffix == ".feature" or (path.is_dir() and any(path.rglob("*.feature"))):
            return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    inspecting = config.option.collectonly or getattr(config.option, "help", False)
    if not runs_features(config) or inspecting:  # --collect-only must not wipe the last run's record
        return
    reports = config.rootpath / "reports"
    if getattr(config.option, "allure_report_dir", None) is None and hasattr(config.option, "allure_report_dir"):
        # xdist workers re-parse the command line, so each one sets the same default; only the
        # controller cleans the folder, before the workers start
        config.option.allure_report_dir = str(reports / "allure-results")
        config.option.clean_alluredir = not hasattr(config, "workerinput")
    if hasattr(config, "workerinput"):
        return
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(reports / "junit.xml")
    for output in (config.option.xmlpath, getattr(config.option, "allure_report_dir", None)):
        if output:
            register_output(config, Path(output))


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    directory = getattr(config.option, "allure_report_dir", None)
    if hasattr(config, "workerinput") or not directory:
        return
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    (target / "environment.properties").write_text(environment_properties(config), encoding="utf-8")
    (target / "categories.json").write_text(json.dumps(CATEGORIES, indent=2), encoding="utf-8")
    executor = executor_info(os.environ)
    if executor:
        (target / "executor.json").write_text(json.dumps(executor, indent=2), encoding="utf-8")


def environment_properties(config: pytest.Config) -> str:
    runbook = config.stash.get(RUNBOOK_KEY, None)
    selection = config.stash.get(SELECTION_KEY, None)
    values = {
        "environment": selection.name if selection else "none",
        "target": (runbook.target().kind if runbook and runbook.targets else "none"),
        "version.from": (runbook.version_from if runbook else None) or "unknown",
        "version.to": (runbook.version_to if runbook else None) or "unknown",
        "git.sha": git_sha(config.rootpath),
        "operator": (runbook.operator if runbook else None) or os.environ.get("USER") or "unknown",
    }
    return "".join(f"{key}={secrets.redact(str(value))}\n" for key, value in values.items())


def git_sha(root: Path) -> str:
    """HEAD of the checkout the run came from; a sign-off must say when tracked files differ from it."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                 capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    sha = out.stdout.strip() if out.returncode == 0 else ""
    if not sha:
        return "unknown"
    return f"{sha} (with uncommitted changes)" if changed.stdout.strip() else sha


def executor_info(environ: dict[str, str] | os._Environ[str]) -> dict[str, str] | None:
    """Allure's executor.json from the CI variables of GitHub Actions or GitLab CI, if present."""
    if environ.get("GITHUB_ACTIONS"):
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        repo = environ.get("GITHUB_REPOSITORY", "")
        run_id = environ.get("GITHUB_RUN_ID", "")
        return {
            "name": "GitHub Actions",
            "type": "github",
            "buildName": f"{environ.get('GITHUB_WORKFLOW', 'workflow')} #{environ.get('GITHUB_RUN_NUMBER', '')}",
            "buildUrl": f"{server}/{repo}/actions/runs/{run_id}",
        }
    if environ.get("GITLAB_CI"):
        return {
            "name": "GitLab CI",
            "type": "gitlab",
            "buildName": f"{environ.get('CI_JOB_NAME', 'job')} #{environ.get('CI_JOB_ID', '')}",
            "buildUrl": environ.get("CI_JOB_URL", ""),
        }
    if environ.get("CI"):
        return {"name": "CI", "type": "ci", "buildName": environ.get("CI_JOB_ID", "local CI run")}
    return None
