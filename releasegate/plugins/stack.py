"""The ``local_stack`` fixture: brings up the stack a runbook's ``stack:`` section describes.

Only a test that requests ``local_stack`` (directly or through another fixture) starts anything,
so ``--collect-only``, ``--help`` and collection errors never touch Docker, PostgreSQL, Prometheus
or nginx. Under ``--dry-run`` the fixture only reports what runs and starts nothing.

When the selected runbook has a ``stack:`` section, every scenario of a .feature file requests
the fixture (first), so ``pytest features/release.feature --env local`` brings the stack up
before the first step runs; the suite's own tests request it explicitly.

The fixture's value is a ``releasegate.localstack.StackConfig`` (URLs, DSNs, ports, the router), or
None when the runbook has no ``stack:`` section: that environment is not ours to start. This is the
only plugin that imports the local stack (tests/test_layout.py).
"""

from __future__ import annotations

import pytest

from releasegate.checks import secrets
from releasegate.checks.errors import ConfigError, ReleaseGateError
from releasegate.checks.runbook.model import Runbook
from releasegate.localstack import StackConfig, status, up
from releasegate.plugins.environment import RUNBOOK_KEY


def pytest_configure(config: pytest.Config) -> None:
    """A ``stack:`` the stack cannot be built from is bad input: refused before the run starts (no journal)."""
    runbook = config.stash.get(RUNBOOK_KEY, None)
    if runbook is None or not runbook.stack or hasattr(config, "workerinput"):
        return
    try:
        StackConfig.from_runbook(runbook)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    runbook = config.stash.get(RUNBOOK_KEY, None)
    if runbook is None or not runbook.stack:
        return
    for item in items:
        names = getattr(item, "fixturenames", None)
        if item.path.suffix == ".feature" and isinstance(names, list) and "local_stack" not in names:
            names.insert(0, "local_stack")


@pytest.fixture(scope="session")
def local_stack(pytestconfig: pytest.Config, runbook: Runbook) -> StackConfig | None:
    """The runbook's local stack, up and running (idempotent: a second or two when it already runs)."""
    if not runbook.stack:
        return None
    try:
        config = StackConfig.from_runbook(runbook)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")

    def log(message: str) -> None:
        if reporter is not None:
            reporter.write_line(f"local-stack: {secrets.redact(message)}")

    if pytestconfig.getoption("releasegate_dry_run", default=False):
        for component in status(config):
            log(f"dry run, not started: {component.line()}")
        return config
    try:
        up(config, log=log)
    except ReleaseGateError as exc:
        pytest.fail(f"local stack: {secrets.redact(str(exc))}", pytrace=False)
    return config
