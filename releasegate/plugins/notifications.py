"""Webhook messages (the runbook's ``notifications:``) when a release run starts, rolls back and ends.

A run that never starts (stopped at a collection error) sends none.

Sent from the controller only, never in a dry run; a message never holds up a rollback (each one
is sent in its own thread), and the end of the run waits at most ``timeout_s`` for the last one.
Every delivery is journaled as a ``notification`` event.
"""

from __future__ import annotations

import pytest

from releasegate.checks.run.decision import Verdict
from releasegate.checks.run.journal import UndoStep
from releasegate.checks.run.notify import Delivery, Notifier
from releasegate.plugins.dryrun import DRY_RUN_KEY
from releasegate.plugins.environment import RUNBOOK_KEY
from releasegate.plugins.journal import JOURNAL_KEY, run_context


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(Notifications(config), "releasegate-notifications")


class Notifications:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.notifier = Notifier(None)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        runbook = self.config.stash.get(RUNBOOK_KEY, None)
        settings = runbook.notifications if runbook else None
        if self.config.stash.get(JOURNAL_KEY, None) is None or settings is None:
            return
        self.notifier = Notifier(settings.webhook_url, timeout_s=settings.timeout_s, retries=settings.retries,
                                 channel=settings.channel, on_result=self._journal_delivery)
        if self.config.getoption("releasegate_rollback_only", default=False):
            self._started("rollback-only")  # it resumes an earlier run's journal: it starts here

    def pytest_releasegate_run_started(self, config: pytest.Config) -> None:
        self._started("release")  # not before: a run stopped at a collection error tells nobody anything

    def _started(self, verb: str) -> None:
        if self.config.stash.get(DRY_RUN_KEY, False):
            return
        context = run_context(self.config)
        self.notifier.send(f"releasegate: {verb} {context['version_from'] or '?'} -> {context['version_to'] or '?'}"
                           f" to {context['environment'] or '?'} started"
                           + (f" (approved by {context['approver']})" if context["approver"] else ""))

    def pytest_releasegate_rollback_started(self, config: pytest.Config, trigger: str, plan: list[UndoStep]) -> None:
        context = run_context(config)
        self.notifier.send(f"releasegate: ROLLING BACK {context['environment'] or '?'} "
                           f"{context['version_to'] or '?'} -> {context['version_from'] or '?'}: {trigger};"
                           f" {len(plan)} action(s)")

    def pytest_releasegate_verdict(self, config: pytest.Config, verdict: Verdict) -> None:
        journal = config.stash.get(JOURNAL_KEY, None)
        if config.stash.get(DRY_RUN_KEY, False) or (journal is not None and not journal.started):
            return
        context = run_context(config)
        self.notifier.send(f"releasegate: {context['environment'] or '?'} {context['version_from'] or '?'}"
                           f" -> {context['version_to'] or '?'}: {verdict.decision} ({verdict.why})")
        self.notifier.wait()

    def _journal_delivery(self, delivery: Delivery) -> None:
        journal = self.config.stash.get(JOURNAL_KEY, None)
        if journal is not None:
            journal.append("notification", text=delivery.text[:200], delivered=delivery.delivered,
                           attempts=delivery.attempts, error=delivery.error)
