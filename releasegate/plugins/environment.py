"""--env NAME selects runbooks/NAME.yaml; --release VERSION sets the version being released.

The runbooks folder is the ini value ``releasegate_runbooks_dir`` (default ``runbooks``), relative
to pytest's rootdir; relative paths inside a runbook are relative to the folder above it.

The environment name is resolved from the option, then RELEASEGATE_ENV, then the ini value
``releasegate_env``; the report header shows which one decided. The first of them that is set
decides: an empty ``--env ""`` or ``RELEASEGATE_ENV=`` is an error, never a fall-through to the
next one. Both options are checked here, before any other plugin acts on them: the environment is
the name of a runbook in runbooks/ (never a path), the version is PEP 440 or SemVer
(``runbook.model.check_version``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from releasegate.checks.errors import ConfigError, InvalidOption
from releasegate.checks.runbook.loader import load_runbook, runbook_path
from releasegate.checks.runbook.model import Runbook, check_version


@dataclass(frozen=True)
class Selection:
    name: str
    source: str
    path: Path


SELECTION_KEY = pytest.StashKey[Selection | None]()
RUNBOOK_KEY = pytest.StashKey[Runbook | None]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("releasegate", "releasegate release verification")
    group.addoption(
        "--env",
        action="store",
        default=None,
        metavar="NAME",
        help="environment to release to: loads NAME.yaml of the runbooks folder (ini releasegate_runbooks_dir,"
             " default runbooks/; also RELEASEGATE_ENV)",
    )
    group.addoption(
        "--release",
        action="store",
        default=None,
        metavar="VERSION",
        help="version being released (overrides the runbook's release.version)",
    )
    parser.addini("releasegate_env", "environment used when neither --env nor RELEASEGATE_ENV is given", default="")
    parser.addini("releasegate_runbooks_dir", "folder holding one runbook YAML per environment, relative to the"
                  " rootdir", default="runbooks")


def select_environment(config: pytest.Config) -> Selection | None:
    runbook_dir = config.rootpath / str(config.getini("releasegate_runbooks_dir"))
    relative = Path(os.path.relpath(runbook_dir))
    if not str(relative).startswith(".."):
        runbook_dir = relative  # messages then name runbooks/prod.yaml as the user typed it
    candidates = [
        (config.getoption("env"), "--env"),
        (os.environ.get("RELEASEGATE_ENV"), "RELEASEGATE_ENV"),
        (config.getini("releasegate_env") or None, "ini releasegate_env"),  # "" is the ini's default: not set
    ]
    for name, source in candidates:
        if name is not None:
            return Selection(str(name), source, runbook_path(runbook_dir, str(name), source))
    return None


def release_option(config: pytest.Config) -> str | None:
    """``--release`` when given, checked: ``--release ""`` is an error, not the runbook's version."""
    value = config.getoption("release")
    if value is None:
        return None
    try:
        return check_version(str(value))
    except ValueError as exc:
        raise InvalidOption(f"--release: {exc}") from None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if RUNBOOK_KEY not in config.stash:  # not checked already (releasegate.plugins' pytest_cmdline_main)
        configure_environment(config)


def configure_environment(config: pytest.Config) -> None:
    """The selected runbook, loaded into the stash; bad input raises ``pytest.UsageError`` (one line)."""
    try:
        release = release_option(config)
        selection = select_environment(config)
        runbook = load_runbook(selection.path, release=release) if selection is not None else None
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SELECTION_KEY] = selection
    config.stash[RUNBOOK_KEY] = runbook


def pytest_report_header(config: pytest.Config) -> list[str]:
    selection = config.stash.get(SELECTION_KEY, None)
    runbook = config.stash.get(RUNBOOK_KEY, None)
    if selection is None or runbook is None:
        return ["releasegate: no environment selected (use --env NAME)"]
    versions = f"{runbook.version_from or '?'} -> {runbook.version_to or '?'}"
    chosen = f"environment {selection.name} (from {selection.source})"
    return [f"releasegate: {chosen}, runbook {selection.path}, release {versions}"]


def current_runbook(config: pytest.Config) -> Runbook:
    runbook = config.stash.get(RUNBOOK_KEY, None)
    if runbook is None:
        raise pytest.UsageError("no environment selected: pass --env NAME (or set RELEASEGATE_ENV)")
    return runbook


@pytest.fixture(scope="session")
def runbook(pytestconfig: pytest.Config) -> Runbook:
    """The validated runbook of the selected environment."""
    return current_runbook(pytestconfig)
