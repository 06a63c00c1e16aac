"""Where a release run leaves its record: Allure results and JUnit XML under reports/.

When feature files are run, Allure results go to reports/allure-results (cleaned first) and
JUnit XML to reports/junit.xml unless the command line says otherwise. The Allure folder gets
environment.properties, executor.json (from CI variables) and categories.json.

The previous run's record survives a run that never starts: the Allure folder is cleaned (by
this plugin, not by allure-pytest-bdd at configure time) only once the run is known to start,
that is when the options and the runbook were valid and the collection had no error; JUnit XML
is written beside reports/junit.xml and moved over it only then. A run stopped by a usage error
or a collection error leaves reports/allure-results and reports/junit.xml as they were.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass
class Record:
    """The files of this run's record, and whether the run has started."""

    allure_dir: Path | None
    clean_allure: bool
    junit: Path | None  # reports/junit.xml, written as ``junit_partial`` until the run has started
    junit_partial: Path | None
    collection_errors: int = 0
    started: bool = False


RECORD_KEY = pytest.StashKey[Record]()


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
    clean = False
    if hasattr(config.option, "allure_report_dir"):
        if config.option.allure_report_dir is None:
            # xdist workers re-parse the command line, so each one sets the same default
            config.option.allure_report_dir = str(reports / "allure-results")
            clean = True
        else:
            clean = bool(getattr(config.option, "clean_alluredir", False))
        config.option.clean_alluredir = False  # allure would clean it now, before we know the run starts
    if hasattr(config, "workerinput"):
        return
    allure_dir = Path(config.option.allure_report_dir) if getattr(config.option, "allure_report_dir", None) else None
    junit = partial = None
    if not getattr(config.option, "xmlpath", None):
        junit, partial = reports / "junit.xml", reports / ".junit.xml.partial"
        config.option.xmlpath = str(partial)
    record = Record(allure_dir, clean, junit, partial)
    config.stash[RECORD_KEY] = record
    config.pluginmanager.register(RecordKeeper(config, record), "releasegate-record")
    for output in (junit or Path(config.option.xmlpath), allure_dir):
        if output:
            register_output(config, output)


class RecordKeeper:
    """On the controller: starts the record once the collection is clean, settles it at the end."""

    def __init__(self, config: pytest.Config, record: Record) -> None:
        self.config = config
        self.record = record

    def start(self) -> None:
        """The run starts: clean the Allure folder of the previous run, before any scenario writes to it."""
        record = self.record
        if record.started or (record.collection_errors and not self.config.option.continue_on_collection_errors):
            return
        record.started = True
        if record.allure_dir is not None and record.clean_allure:
            shutil.rmtree(record.allure_dir, ignore_errors=True)
            record.allure_dir.mkdir(parents=True, exist_ok=True)  # allure-pytest-bdd writes into it, never makes it

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:  # under xdist the workers' collection errors are fired here too
            self.record.collection_errors += 1

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.start()

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        # the controller does not collect; a worker's errors arrive before its collection, tests only after all
        self.start()

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, None, None]:
        record = self.record
        if not record.started:
            # nothing of this run may land in the previous run's folder (Allure's writers, the sign-off's)
            self.config.option.allure_report_dir = None
        write_allure_metadata(self.config)
        try:
            return (yield)
        finally:  # after pytest's junitxml wrote the partial file
            if record.junit is not None and record.junit_partial is not None:
                if record.started and record.junit_partial.exists():
                    os.replace(record.junit_partial, record.junit)
                else:
                    record.junit_partial.unlink(missing_ok=True)


def write_allure_metadata(config: pytest.Config) -> None:
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
