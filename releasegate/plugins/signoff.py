"""The sign-off record of a release run: reports/signoff.md, an Allure result, the exit code.

It renders the run's ``RunSummary`` (``pytest_releasegate_run_summary``, from the summary plugin)
and asks ``checks.run.decision.verdict(summary)`` for the decision and the exit code, which it
sets on the session, so that ``pytest`` itself exits with it. The decisions and their exit codes
are the README's "Exit codes" table (PROMOTED 0, DRY RUN 0, BLOCKED 1, ROLLED BACK 1, HALTED 10,
ROLLBACK FAILED 11, PASSED (partial) 12; pytest's own 2, 3, 4, 5 are kept).

The record says what ran: the scenarios per stage (selected, ran, passed, failed, skipped,
deselected), every release scenario that did not run and why, collection, internal and teardown
errors.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from releasegate.checks import secrets
from releasegate.checks._support.files import writable_file
from releasegate.checks.errors import ConfigError
from releasegate.checks.run.decision import EXIT_CODES, RunSummary, Verdict, verdict
from releasegate.plugins.environment import RUNBOOK_KEY, SELECTION_KEY
from releasegate.plugins.journal import JOURNAL_KEY
from releasegate.plugins.lock import LOCK_KEY
from releasegate.plugins.reporting import git_sha
from releasegate.plugins.safety import SAFETY_KEY
from releasegate.plugins.summary import SUMMARY_KEY

STARTED_KEY = pytest.StashKey[float]()
VERDICT_KEY = pytest.StashKey[Verdict]()
SIGNOFF_WRITTEN_KEY = pytest.StashKey[bool]()
DEFAULT_SIGNOFF = "reports/signoff.md"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("releasegate").addoption(
        "--signoff", dest="releasegate_signoff", metavar="FILE", default=DEFAULT_SIGNOFF,
        help="where a release run writes its sign-off (default reports/signoff.md, relative to the rootdir)")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[STARTED_KEY] = time.time()
    if not hasattr(config, "workerinput"):
        check_signoff_option(config)  # again: cheap, and a --help run skipped the early check


def check_signoff_option(config: pytest.Config) -> None:
    """Before anything runs: ``--signoff`` names a file that can be written (the default's reports/ may be made)."""
    value = str(config.getoption("releasegate_signoff"))
    try:
        if not value.strip():
            raise ConfigError(f"--signoff {value!r}: empty; name the sign-off file, such as {DEFAULT_SIGNOFF}")
        writable_file(signoff_path(config), "--signoff", create_folder=value == DEFAULT_SIGNOFF)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None


def signoff_path(config: pytest.Config) -> Path:
    return config.rootpath / str(config.getoption("releasegate_signoff"))


def pytest_releasegate_run_summary(session: pytest.Session, summary: RunSummary) -> None:
    config = session.config
    decided = verdict(summary)
    config.stash[VERDICT_KEY] = decided
    journal = config.stash.get(JOURNAL_KEY, None)
    path = signoff_path(config)
    if journal is not None and not journal.started:
        # the run stopped before it started (a collection error): the previous run's record stays as it was
        config.stash[SIGNOFF_WRITTEN_KEY] = False
    else:
        text = secrets.redact(render(config, summary, decided))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        attach_to_allure(config, text, decided)
        config.stash[SIGNOFF_WRITTEN_KEY] = True
    if journal is not None:
        journal.append("run_finished", decision=decided.decision, label=decided.label, why=decided.why,
                       exit_code=decided.exit_code, signoff=str(path))
        if journal.started and not summary.dry_run and not summary.rollback_only:
            journal.make_latest()  # a run that finished is the latest (a --rollback-only resumes an older one)
    session.exitstatus = decided.exit_code
    config.hook.pytest_releasegate_verdict(config=config, verdict=decided)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    decided = config.stash.get(VERDICT_KEY, None)
    if decided is None:
        return
    summary = config.stash[SUMMARY_KEY]
    terminalreporter.section("releasegate sign-off")
    terminalreporter.write_line(secrets.redact(f"decision: {decided.label} - {decided.why}"))
    if summary.rollback is not None:
        terminalreporter.write_line(secrets.redact(summary.rollback.summary()))
    for item in summary.pending_manual:
        terminalreporter.write_line(f"pending manual item: {item}")
    if config.stash.get(SIGNOFF_WRITTEN_KEY, True):
        terminalreporter.write_line(f"sign-off: {signoff_path(config)}")
    else:
        terminalreporter.write_line(f"sign-off: not written (the run did not start; {signoff_path(config)} is the"
                                    " previous run's, untouched)")


def render(config: pytest.Config, summary: RunSummary, decided: Verdict) -> str:
    runbook = config.stash.get(RUNBOOK_KEY, None)
    selection = config.stash.get(SELECTION_KEY, None)
    safety = config.stash[SAFETY_KEY]
    journal = config.stash.get(JOURNAL_KEY, None)
    approval = safety.approval
    lines = [
        f"# Release sign-off: {decided.label}",
        "",
        f"**Decision:** {decided.label} - {decided.why}",
        "",
        "| | |",
        "|---|---|",
        f"| Environment | {selection.name if selection else 'none'} |",
        f"| Version from | {(runbook.version_from if runbook else None) or 'unknown'} |",
        f"| Version to | {(runbook.version_to if runbook else None) or 'unknown'} |",
        f"| Git SHA | {git_sha(config.rootpath)} |",
        f"| Approver | {f'{approval.name} ({approval.source})' if approval else 'none'}"
        f"{' (approval required)' if safety.require_approval else ''} |",
        f"| Run journal | {journal.path if journal and journal.started else 'none (the run did not start)'} |",
        *config.stash[LOCK_KEY].signoff_rows(),
        f"| Finished at | {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} |",
        "",
    ]
    if summary.halt is not None:
        lines += [f"Halt: {summary.halt.reason}", ""]
    lines += render_what_ran(summary)
    lines.append("## Failed checks")
    if not summary.failures:
        lines.append("None.")
    for failure in summary.failures:
        tags = ", ".join(tag for tag, on in (("critical", failure.critical), ("post-rollback", failure.post_rollback))
                         if on)
        lines.append(f"- **{failure.scenario}** ({failure.stage or 'no stage'}{', ' + tags if tags else ''}):"
                     f" {failure.outcome} - {failure.message}")
        lines += [f"  - evidence: {line}" for line in failure.evidence]
    lines += ["", "## Rollback"]
    rollback = summary.rollback
    if rollback is None:
        lines.append(f"No rollback ran{': ' + summary.decision.reason if summary.decision else '.'}")
    elif not rollback.ran:
        lines.append(rollback.reason)
    else:
        lines.append(f"Outcome {rollback.outcome.value}, {len(rollback.steps)} action(s), "
                     f"duration {rollback.duration_s:.2f} s.")
        for step in rollback.steps:
            done = "already done earlier" if step.result is None else step.result.summary()
            lines.append(f"- {step.step.stage}: `{step.step.action}` - {done}")
        if summary.post_rollback_passed:
            lines.append("Post-rollback checks passed: " + ", ".join(summary.post_rollback_passed))
        unverified = [n.describe() for n in summary.not_run if n.post_rollback]
        if unverified:
            lines.append("Post-rollback checks that did not run: " + ", ".join(unverified))
    lines += ["", "## Pending manual items"]
    lines += [f"- {item} (pending manual confirmation: not passed)" for item in summary.pending_manual] or ["None."]
    if safety.confirmed:
        lines += ["", "## Confirmed manual items"]
        lines += [f"- {item}: {c.describe()}" for item, c in safety.confirmed.items()]
    return "\n".join(lines) + "\n"


def render_what_ran(summary: RunSummary) -> list[str]:
    """The scenarios per stage, the errors that make the outcome unknown, the release scenarios that did not run."""
    lines = ["## Scenarios", "", "| stage | selected | ran | passed | failed | skipped | deselected |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {group} | {c.collected} | {c.ran} | {c.passed} | {c.failed} | {c.skipped} | {c.deselected} |"
              for group, c in summary.stages.items()] or ["| none | 0 | 0 | 0 | 0 | 0 | 0 |"]
    lines.append("")
    errors = (("Collection errors", summary.collection_errors), ("Internal errors", summary.internal_errors),
              ("Teardown errors", summary.teardown_errors))
    for title, found in errors:
        if found:
            lines += [f"## {title}", *(f"- {error}" for error in found), ""]
    if summary.release_not_run and not summary.rollback_only:  # --rollback-only runs no release scenario
        lines += ["## Release scenarios that did not run", *(f"- {n.describe()}" for n in summary.release_not_run), ""]
    return lines


def attach_to_allure(config: pytest.Config, text: str, decided: Verdict) -> None:
    directory = getattr(config.option, "allure_report_dir", None)
    if not directory:
        return
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    attachment = f"{uuid.uuid4()}-attachment.md"
    (target / attachment).write_text(text, encoding="utf-8")
    result = {
        "uuid": str(uuid.uuid4()), "historyId": "releasegate-signoff",
        "name": f"Release sign-off: {decided.label}",
        "fullName": "releasegate.signoff", "status": "passed" if EXIT_CODES[decided.decision] == 0 else "failed",
        "stage": "finished", "statusDetails": {"message": secrets.redact(f"{decided.label}: {decided.why}")},
        "start": int(config.stash[STARTED_KEY] * 1000), "stop": int(time.time() * 1000),
        "labels": [{"name": "suite", "value": "Sign-off"}, {"name": "feature", "value": "Release sign-off"}],
        "attachments": [{"name": "signoff.md", "source": attachment, "type": "text/markdown"}],
    }
    (target / f"{result['uuid']}-result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
