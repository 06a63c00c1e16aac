"""The sign-off record of a release run: reports/signoff.md, an Allure result, the exit code.

Decisions and exit codes (set on the session, so ``pytest`` itself exits with them):

    PROMOTED          0   every stage ran; no critical check failed
    DRY RUN           0   --dry-run: the plan is valid and every read-only check passed
    BLOCKED           1   halted before anything changed (a critical preflight check, a refused
                          approval, a pending critical manual item) or a dry run with failures
    ROLLED BACK       1   a critical check failed; the rollback plan ran and the @post-rollback
                          checks passed
    HALTED           10   stopped with changes in place for a person to decide: an INCONCLUSIVE
                          critical check, --no-rollback, an interrupted run without rollback
    ROLLBACK FAILED  11   a rollback action failed, or a @post-rollback check failed

pytest's own errors (2 interrupted by collection errors, 3 internal error, 4 usage error, 5 no
tests) are kept as they are; the sign-off then says BLOCKED.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from releasegate.checks import secrets
from releasegate.plugins.environment import RUNBOOK_KEY, SELECTION_KEY
from releasegate.plugins.reporting import git_sha
from releasegate.plugins.rollback import GUARD_KEY, ReleaseGuard

PROMOTED, DRY_RUN, BLOCKED, ROLLED_BACK, HALTED, ROLLBACK_FAILED = (
    "PROMOTED", "DRY RUN", "BLOCKED", "ROLLED BACK", "HALTED", "ROLLBACK FAILED")
EXIT_CODES = {PROMOTED: 0, DRY_RUN: 0, BLOCKED: 1, ROLLED_BACK: 1, HALTED: 10, ROLLBACK_FAILED: 11}
PYTEST_OWN = (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED)


@dataclass(frozen=True)
class Verdict:
    decision: str
    why: str


def decide(guard: ReleaseGuard, exitstatus: int) -> Verdict:
    failures = [f for f in guard.failed_checks if not f.post_rollback]
    post_failures = [f for f in guard.failed_checks if f.post_rollback]
    rollback = guard.rollback
    if rollback is not None and (rollback.ran or guard.rollback_only):
        if rollback.failed_steps:
            return Verdict(ROLLBACK_FAILED, f"{len(rollback.failed_steps)} rollback action(s) failed")
        if post_failures:
            return Verdict(ROLLBACK_FAILED, f"{len(post_failures)} post-rollback check(s) failed after the rollback")
        return Verdict(ROLLED_BACK, guard.decision.reason if guard.decision else "rolled back")
    if guard.safety.dry_run:
        if failures or exitstatus not in (0, pytest.ExitCode.TESTS_FAILED):
            return Verdict(BLOCKED, f"dry run: {len(failures)} read-only check(s) failed")
        return Verdict(DRY_RUN, "the plan is valid and every read-only check passed; nothing was changed")
    halt = guard.current_halt()
    changed = guard.journal is not None and bool(guard.journal.plan())
    if halt is not None or guard.decision is not None:
        reason = guard.decision.reason if guard.decision else (halt.reason if halt else "")
        if not changed:
            return Verdict(BLOCKED, f"{reason}; nothing was changed")
        return Verdict(HALTED, reason)
    if exitstatus in PYTEST_OWN or exitstatus == pytest.ExitCode.INTERRUPTED:
        return Verdict(BLOCKED, f"pytest ended with exit status {exitstatus}")
    return Verdict(PROMOTED, "every stage ran and no critical check failed")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("releasegate").addoption(
        "--signoff", dest="releasegate_signoff", metavar="FILE", default="reports/signoff.md",
        help="where a release run writes its sign-off (default reports/signoff.md, relative to the rootdir)")


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    guard = config.stash.get(GUARD_KEY, None)
    if guard is not None and guard.release_run and not guard.is_worker:
        config.pluginmanager.register(SignOff(config, guard), "releasegate-signoff")


class SignOff:
    def __init__(self, config: pytest.Config, guard: ReleaseGuard) -> None:
        self.config = config
        self.guard = guard
        self.verdict: Verdict | None = None
        self.path = config.rootpath / str(config.getoption("releasegate_signoff"))
        self.started = time.time()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        status = int(session.exitstatus)
        verdict = decide(self.guard, status)
        self.verdict = verdict
        text = secrets.redact(self.render(verdict))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(text, encoding="utf-8")
        self.attach_to_allure(text, verdict)
        keep_pytest_status = status in PYTEST_OWN or (status == pytest.ExitCode.INTERRUPTED
                                                      and not self.guard.interrupted)
        code = status if keep_pytest_status else EXIT_CODES[verdict.decision]
        if self.guard.journal is not None:
            self.guard.journal.append("run_finished", decision=verdict.decision, why=verdict.why, exit_code=code,
                                      signoff=str(self.path))
        session.exitstatus = code
        if not self.guard.safety.dry_run:
            context = self.guard.run_context()
            self.guard.notifier.send(f"releasegate: {context['environment'] or '?'} {context['version_from'] or '?'}"
                                     f" -> {context['version_to'] or '?'}: {verdict.decision} ({verdict.why})")
            self.guard.notifier.wait()

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.verdict is None:
            return
        terminalreporter.section("releasegate sign-off")
        terminalreporter.write_line(secrets.redact(f"decision: {self.verdict.decision} - {self.verdict.why}"))
        if self.guard.rollback is not None:
            terminalreporter.write_line(secrets.redact(self.guard.rollback.summary()))
        for item in self.guard.pending_manual:
            terminalreporter.write_line(f"pending manual item: {item}")
        terminalreporter.write_line(f"sign-off: {self.path}")

    def render(self, verdict: Verdict) -> str:
        guard = self.guard
        runbook = self.config.stash.get(RUNBOOK_KEY, None)
        selection = self.config.stash.get(SELECTION_KEY, None)
        approval = guard.safety.approval
        lines = [
            f"# Release sign-off: {verdict.decision}",
            "",
            f"**Decision:** {verdict.decision} - {verdict.why}",
            "",
            "| | |",
            "|---|---|",
            f"| Environment | {selection.name if selection else 'none'} |",
            f"| Version from | {(runbook.version_from if runbook else None) or 'unknown'} |",
            f"| Version to | {(runbook.version_to if runbook else None) or 'unknown'} |",
            f"| Git SHA | {git_sha(self.config.rootpath)} |",
            f"| Approver | {f'{approval.name} ({approval.source})' if approval else 'none'}"
            f"{' (approval required)' if guard.safety.require_approval else ''} |",
            f"| Run journal | {guard.journal.path if guard.journal else 'none'} |",
            f"| Finished at | {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} |",
            "",
        ]
        halt = guard.current_halt()
        if halt is not None:
            lines += [f"Halt: {halt.reason}", ""]
        lines.append("## Failed checks")
        if not guard.failed_checks:
            lines.append("None.")
        for failure in guard.failed_checks:
            tags = ", ".join(t for t, on in (("critical", failure.critical), ("post-rollback", failure.post_rollback))
                             if on)
            lines.append(f"- **{failure.scenario}** ({failure.stage or 'no stage'}{', ' + tags if tags else ''}):"
                         f" {failure.outcome} - {failure.message}")
            lines += [f"  - evidence: {line}" for line in failure.evidence]
        lines += ["", "## Rollback"]
        rollback = guard.rollback
        if rollback is None:
            lines.append(f"No rollback ran{': ' + guard.decision.reason if guard.decision else '.'}")
        elif not rollback.ran:
            lines.append(rollback.reason)
        else:
            lines.append(f"Outcome {rollback.outcome.value}, {len(rollback.steps)} action(s), "
                         f"duration {rollback.duration_s:.2f} s.")
            for step in rollback.steps:
                done = "already done earlier" if step.result is None else step.result.summary()
                lines.append(f"- {step.step.stage}: `{step.step.action}` - {done}")
            if guard.post_rollback_ran:
                lines.append("Post-rollback checks passed: " + ", ".join(guard.post_rollback_ran))
        lines += ["", "## Pending manual items"]
        lines += [f"- {item} (pending manual confirmation: not passed)" for item in guard.pending_manual] or ["None."]
        if guard.safety.confirmed:
            lines += ["", "## Confirmed manual items"]
            lines += [f"- {item}: {c.describe()}" for item, c in guard.safety.confirmed.items()]
        return "\n".join(lines) + "\n"

    def attach_to_allure(self, text: str, verdict: Verdict) -> None:
        directory = getattr(self.config.option, "allure_report_dir", None)
        if not directory:
            return
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        attachment = f"{uuid.uuid4()}-attachment.md"
        (target / attachment).write_text(text, encoding="utf-8")
        status = "passed" if EXIT_CODES[verdict.decision] == 0 else "failed"
        result = {
            "uuid": str(uuid.uuid4()), "historyId": "releasegate-signoff",
            "name": f"Release sign-off: {verdict.decision}",
            "fullName": "releasegate.signoff", "status": status, "stage": "finished",
            "statusDetails": {"message": secrets.redact(f"{verdict.decision}: {verdict.why}")},
            "start": int(self.started * 1000), "stop": int(time.time() * 1000),
            "labels": [{"name": "suite", "value": "Sign-off"}, {"name": "feature", "value": "Release sign-off"}],
            "attachments": [{"name": "signoff.md", "source": attachment, "type": "text/markdown"}],
        }
        (target / f"{result['uuid']}-result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
