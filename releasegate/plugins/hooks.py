"""releasegate's own hooks: how its plugins tell each other what happened in a release run.

Registered by ``releasegate.plugins`` (``pytest_addhooks``). Every hook is called on the xdist
controller (the only process that sees every report), or in the one process of a run without -n.
Implement one in a plugin or a conftest.py to follow a release, e.g. to page someone on a halt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import pytest

    from releasegate.checks.run.decision import FailedCheck, RollbackDecision, RunSummary, Verdict
    from releasegate.checks.run.journal import UndoStep
    from releasegate.checks.run.rollback_plan import RollbackReport

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_releasegate_run_started(config: pytest.Config) -> None:
    """The release run has started: its collection is clean and its journal exists (once per run;
    not for ``--rollback-only``, which resumes the journal of an earlier run)."""


@hookspec
def pytest_releasegate_critical_failure(config: pytest.Config, failure: FailedCheck) -> None:
    """A @critical release scenario failed (or its worker crashed); the line is already halted.

    Called for every such failure; the rollback plugin decides on the first one.
    """


@hookspec
def pytest_releasegate_rollback_decided(config: pytest.Config, decision: RollbackDecision) -> None:
    """The controller decided to roll back, to halt for a person, or that there is nothing to do.

    A rollback decision can become "none" when it is about to run and the plan is empty: the
    hook is then called again.
    """


@hookspec
def pytest_releasegate_rollback_started(config: pytest.Config, trigger: str, plan: list[UndoStep]) -> None:
    """The rollback plan is about to run (newest change first); must not block."""


@hookspec
def pytest_releasegate_rollback_finished(config: pytest.Config, report: RollbackReport) -> None:
    """The rollback plan ran, or was found already run (``report.ran`` is False then)."""


@hookspec
def pytest_releasegate_run_summary(session: pytest.Session, summary: RunSummary) -> None:
    """The run is over (any rollback included): what ran, what failed, the halt, the rollback."""


@hookspec
def pytest_releasegate_verdict(config: pytest.Config, verdict: Verdict) -> None:
    """The run's decision and exit code, after the sign-off was written."""
