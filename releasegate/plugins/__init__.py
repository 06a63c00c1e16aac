"""releasegate's pytest plugin: registers its hookspecs (hooks.py) and one plugin module per concern.

``conftest.py`` loads it with ``pytest_plugins = ["releasegate.plugins", ...]``. The plugins share
state through ``config.stash`` keys (each defined by the plugin that owns the value) and hooks.py:

    environment   --env/--release: the runbook                         RUNBOOK_KEY, SELECTION_KEY
    collection    .feature files collected directly, steps and tags validated
    stages        classify and order the scenarios                       SCENARIOS_KEY
    journal       the run's journal, shared with the workers; release_journal  JOURNAL_KEY
    halt          stop the line: halt file, skips, the post-rollback gate  HALT_LINE_KEY
    barrier       under xdist, a stage starts once every earlier stage finished
    rollback      on the controller: decide, run the plan once; SIGTERM, --rollback-only
    lock          one release at a time per environment; release windows  LOCK_KEY
    notifications webhook messages at start, rollback and finish
    dryrun        --dry-run: the plan, only read-only scenarios run      DRY_RUN_KEY
    safety        approval of destructive stages, @manual confirmations  SAFETY_KEY
    evidence      check results in Allure and user_properties, short failure text
    redaction     secrets masked in every output
    reporting     reports/allure-results, reports/junit.xml
    summary       what ran and failed, per stage, on the controller       SUMMARY_KEY
    signoff       reports/signoff.md, the verdict and the exit code
    stack, targets  the local stack and the runbook's deployment targets
"""

from __future__ import annotations

import pytest

pytest_plugins = [
    "releasegate.plugins.environment",
    "releasegate.plugins.collection",
    "releasegate.plugins.evidence",
    "releasegate.plugins.stack",
    "releasegate.plugins.redaction",
    "releasegate.plugins.reporting",
    "releasegate.plugins.stages",
    "releasegate.plugins.dryrun",
    "releasegate.plugins.safety",
    "releasegate.plugins.journal",
    "releasegate.plugins.halt",
    "releasegate.plugins.barrier",
    "releasegate.plugins.rollback",
    "releasegate.plugins.lock",
    "releasegate.plugins.notifications",
    "releasegate.plugins.summary",
    "releasegate.plugins.signoff",
    "releasegate.plugins.targets",
]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from releasegate.plugins import hooks

    pluginmanager.add_hookspecs(hooks)
