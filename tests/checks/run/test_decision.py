"""The release policy as tables: stage order, the dry-run verdict, the rollback decision, the final verdict.

The verdict table has a row for every row of the README's exit-code table and for every way a run
can fail to be the whole release (issue 12: a collection error under xdist, an internal error, a
worker crash, an unfinished scenario, a deselected subset, a checklist without a deploy, a rollback
whose post-rollback checks did not run); tests/plugins/test_verdict.py drives them end to end, with
and without -n 2.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from releasegate.checks.result import CheckResult, Outcome
from releasegate.checks.run.decision import (
    BLOCKED,
    DESELECTED,
    DRY_RUN,
    EXIT_CODES,
    HALT,
    HALTED,
    NONE,
    PASSED,
    PROMOTED,
    ROLLBACK,
    ROLLBACK_FAILED,
    ROLLED_BACK,
    SKIPPED,
    UNFINISHED,
    FailedCheck,
    Halt,
    Interrupted,
    NotRun,
    RollbackDecision,
    RollbackOnly,
    RollbackPolicy,
    RunSummary,
    ScenarioInfo,
    StageCounts,
    Trigger,
    classify,
    decide_rollback,
    dry_run_verdict,
    first_change_rank,
    has_stages,
    settle_rollback,
    verdict,
)
from releasegate.checks.run.journal import UndoStep
from releasegate.checks.run.rollback_plan import RollbackReport, StepOutcome

# ---- stages ---------------------------------------------------------------------------------


def test_classify_reads_the_stage_and_the_tags() -> None:
    info = classify("f::deploy", "deploy the new version", ["deploy", "critical", "parametrize"])
    assert (info.stage, info.critical, info.destructive, info.post_rollback, info.manual) == (
        "deploy", True, True, False, False)
    assert ScenarioInfo.from_dict(info.as_dict()) == info


def test_release_order_is_stage_order_then_no_stage_then_post_rollback() -> None:
    names = {"smoke": ["smoke"], "after": ["post-rollback"], "other": [], "pre": ["preflight"], "mig": ["migrate"],
             "load": ["load"], "deploy": ["deploy"]}
    infos = [classify(name, name, tags) for name, tags in names.items()]
    assert [i.nodeid for i in sorted(infos, key=lambda i: i.rank)] == [
        "pre", "mig", "deploy", "smoke", "load", "other", "after"]
    assert [i.group for i in infos] == ["smoke", "post-rollback", "other", "preflight", "migrate", "load", "deploy"]
    assert has_stages(infos) and not has_stages([classify("x", "x", ["critical"])])
    assert first_change_rank(infos) == 2 and first_change_rank([classify("x", "x", ["smoke"])]) is None


# ---- the dry run ----------------------------------------------------------------------------

DEPLOY_RANK = classify("d", "d", ["deploy"]).rank


@pytest.mark.parametrize(("tags", "read_only", "change_rank", "expected"), [
    (["post-rollback"], True, None, "runs only after a rollback"),
    (["migrate", "critical"], False, None, "migrate stage changes the environment"),
    (["destructive"], False, None, "destructive stage changes the environment"),
    (["preflight", "critical"], True, DEPLOY_RANK, None),
    (["preflight", "critical"], False, DEPLOY_RANK, "not a read-only check"),
    (["manual"], True, DEPLOY_RANK, None),
    (["manual"], False, DEPLOY_RANK, "not a read-only check"),
    (["smoke"], False, None, "not a read-only check"),
    (["smoke"], True, DEPLOY_RANK, "checks the result of a stage that the dry run skips"),
    (["smoke"], True, None, None),
    ([], True, DEPLOY_RANK, "checks the result of a stage that the dry run skips"),
    (["backup"], True, DEPLOY_RANK, "backup stage changes the environment"),
], ids=lambda value: repr(value))
def test_dry_run_verdict(tags: list[str], read_only: bool, change_rank: int | None, expected: str | None) -> None:
    info = classify("f::s", "s", tags)
    assert dry_run_verdict(info, read_only=read_only, change_rank=change_rank) == expected


# ---- the rollback decision ------------------------------------------------------------------


def failed(scenario: str = "deploy", *, critical: bool = True, post_rollback: bool = False, crashed: bool = False,
           outcome: str = "FAIL") -> FailedCheck:
    return FailedCheck(nodeid=f"f::{scenario}", scenario=scenario, stage="deploy", critical=critical,
                       post_rollback=post_rollback, outcome=outcome, message="", crashed=crashed)


@pytest.mark.parametrize(("trigger", "policy", "has_changes", "expected"), [
    (failed(), RollbackPolicy(), True, (ROLLBACK, "critical failure in deploy")),
    (failed(crashed=True), RollbackPolicy(), True, (ROLLBACK, "worker crashed during deploy")),
    (failed(), RollbackPolicy(), False,
     (NONE, "critical failure in deploy; nothing to roll back: no stage had changed anything")),
    (failed(outcome="INCONCLUSIVE"), RollbackPolicy(), True,
     (HALT, "inconclusive critical check in deploy: needs a person")),
    (failed(outcome="INCONCLUSIVE"), RollbackPolicy(on_inconclusive="rollback"), True,
     (ROLLBACK, "critical failure in deploy")),
    (failed(outcome="INCONCLUSIVE"), RollbackPolicy(no_rollback=True), True,
     (HALT, "inconclusive critical check in deploy: needs a person")),
    (failed(), RollbackPolicy(no_rollback=True), True,
     (HALT, "critical failure in deploy; rollback disabled by --no-rollback")),
    (failed(), RollbackPolicy(no_rollback=True), False,
     (HALT, "critical failure in deploy; rollback disabled by --no-rollback")),
    (failed(), RollbackPolicy(enabled=False), True, (HALT, "critical failure in deploy; rollback.enabled is false")),
    (failed(), RollbackPolicy(dry_run=True), True, (NONE, "dry run: nothing was changed")),
    (Interrupted(), RollbackPolicy(), True, (ROLLBACK, "run interrupted")),
    (Interrupted(), RollbackPolicy(), False,
     (NONE, "run interrupted; nothing to roll back: no stage had changed anything")),
    (Interrupted(), RollbackPolicy(no_rollback=True), True, (HALT, "run interrupted; rollback disabled")),
    (Interrupted(), RollbackPolicy(enabled=False), True, (HALT, "run interrupted; rollback disabled")),
    (RollbackOnly(), RollbackPolicy(no_rollback=True), True, (ROLLBACK, "--rollback-only")),
    (RollbackOnly(), RollbackPolicy(dry_run=True), True, (NONE, "dry run: nothing was changed")),
    (RollbackOnly(), RollbackPolicy(), False,
     (NONE, "--rollback-only; nothing to roll back: no stage had changed anything")),
], ids=lambda value: repr(value) if isinstance(value, tuple) else "")
def test_decide_rollback(trigger: Trigger, policy: RollbackPolicy, has_changes: bool,
                         expected: tuple[str, str]) -> None:
    assert decide_rollback(trigger, policy, has_changes=has_changes) == RollbackDecision(*expected)


def test_a_rollback_is_settled_again_when_it_is_about_to_run() -> None:
    halt = RollbackDecision(HALT, "x")
    assert settle_rollback(halt, has_changes=False) is halt
    assert settle_rollback(RollbackDecision(ROLLBACK, "x"), has_changes=True) == RollbackDecision(ROLLBACK, "x")
    assert settle_rollback(RollbackDecision(ROLLBACK, "x"), has_changes=False).action == NONE


# ---- the verdict ----------------------------------------------------------------------------

STEP = UndoStep(key="k", stage="deploy", scenario="deploy", action="test.record", params={}, recorded_at=0.0)
ROLLED = RollbackReport(ran=True, steps=[StepOutcome(STEP, CheckResult.ok("rollback deploy"))])
ROLLBACK_ACTION_FAILED = RollbackReport(ran=True, outcome=Outcome.FAIL,
                                        steps=[StepOutcome(STEP, CheckResult.fail("rollback deploy"))])
ALREADY_ROLLED = RollbackReport(ran=False, reason="rollback already finished (PASS) by process 1 at 0")
RAN = {"preflight": StageCounts(collected=1, ran=1, passed=1), "deploy": StageCounts(collected=1, ran=1, passed=1)}
NOTHING_RAN = {"preflight": StageCounts(collected=1, skipped=1), "post-rollback": StageCounts(collected=1, ran=1)}
CRITICAL_HALT = Halt("release halted: critical failure in deploy", "f::deploy", "deploy", "critical")
ROLL_BACK_DEPLOY = RollbackDecision(ROLLBACK, "critical failure in deploy")


def summary(**fields: object) -> RunSummary:
    values: dict[str, object] = {"stages": RAN, "pytest_status": 0}
    values.update(fields)
    return RunSummary(**values)  # type: ignore[arg-type]


INTERRUPT_HALT = Halt("release halted: run interrupted", "", "", "interrupted")
TYPO = ("features/release.feature:13: no step definition for 'Then the fake chek \"x\" passes' in scenario"
        " 'preflight checks pass'")
TYPO_WHY = f"collection error: {TYPO}"
PREVIOUS_NOT_RUN = NotRun("previous version serving", "post-rollback", UNFINISHED)
SUBSET = {**RAN, "smoke": StageCounts(deselected=1), "load": StageCounts(deselected=1)}
DESELECTED_TWO = (NotRun("smoke checks pass", "smoke", DESELECTED), NotRun("load test", "load", DESELECTED))

BUILT_IN_FAILED = FailedCheck("releasegate::verify-rollback::api serves 1.0.0", "built-in: api serves 1.0.0", None,
                              critical=True, post_rollback=True, outcome="FAIL",
                              message="api serves 1.0.0: FAIL (observed 1.1.0, expected 1.0.0)")

VERDICT_CASES: list[tuple[RunSummary, tuple[str, str, int]]] = [
    # 0 PROMOTED: every release scenario ran (a deploy among them) and no critical check failed
    (summary(), (PROMOTED, "every stage ran and no critical check failed", 0)),
    (summary(failures=(failed("load", critical=False),), pending_manual=("Team notified",), pytest_status=1),
     (PROMOTED, "every stage ran and no critical check failed", 0)),
    (summary(not_run=(NotRun("previous version serving", "post-rollback", SKIPPED, "no rollback happened"),)),
     (PROMOTED, "every stage ran and no critical check failed", 0)),
    # 0 DRY RUN: the plan is valid and the read-only checks passed
    (summary(dry_run=True),
     (DRY_RUN, "the plan is valid and every read-only check passed; nothing was changed", 0)),
    (summary(dry_run=True, decision=RollbackDecision(NONE, "dry run: nothing was changed"), halt=CRITICAL_HALT,
             failures=(failed(),), pytest_status=1), (BLOCKED, "dry run: 1 read-only check(s) failed", 1)),
    (summary(dry_run=True, pytest_status=2, interrupted=True),
     (BLOCKED, "dry run: pytest ended with exit status 2", 1)),
    (summary(dry_run=True, stages={}, collection_errors=(TYPO,), pytest_status=1),  # under -n 2
     (BLOCKED, f"dry run: {TYPO_WHY}", 2)),
    # 1 BLOCKED: halted before anything changed
    (summary(failures=(failed("preflight"),), halt=CRITICAL_HALT, pytest_status=1,
             decision=RollbackDecision(NONE, "critical failure in preflight; nothing to roll back: no stage had"
                                             " changed anything")),
     (BLOCKED, "critical failure in preflight; nothing to roll back: no stage had changed anything; nothing was"
               " changed", 1)),
    (summary(halt=Halt("release halted: approval required for migrate", "f::m", "migrate", "approval")),
     (BLOCKED, "release halted: approval required for migrate; nothing was changed", 1)),
    (summary(halt=Halt("release halted: manual item pending confirmation: Team", "f::t", "Team", "manual"),
             pending_manual=("Team",)),
     (BLOCKED, "release halted: manual item pending confirmation: Team; nothing was changed", 1)),
    (summary(failures=(failed(),), halt=CRITICAL_HALT, pytest_status=1,
             decision=RollbackDecision(HALT, "critical failure in deploy; rollback disabled by --no-rollback")),
     (BLOCKED, "critical failure in deploy; rollback disabled by --no-rollback; nothing was changed", 1)),
    # a critical migration that failed before it changed anything (the plan is empty): no rollback, BLOCKED
    (summary(failures=(failed("migrate"),), halt=CRITICAL_HALT, pytest_status=1,
             decision=decide_rollback(failed("migrate"), RollbackPolicy(), has_changes=False)),
     (BLOCKED, "critical failure in migrate; nothing to roll back: no stage had changed anything; nothing was"
               " changed", 1)),
    (summary(halt=INTERRUPT_HALT, interrupted=True, pytest_status=2,
             decision=decide_rollback(Interrupted(), RollbackPolicy(), has_changes=False)),
     (BLOCKED, "run interrupted; nothing to roll back: no stage had changed anything; nothing was changed", 1)),
    (summary(stages=NOTHING_RAN), (BLOCKED, "no release scenario ran", 1)),
    (summary(stages={}), (BLOCKED, "no release scenario ran", 1)),
    # the outcome is unknown and nothing was changed: a collection error (under -n 2 pytest says 1, or 0 with
    # another feature's scenarios passing), an internal error, a worker crash, a scenario that never finished
    (summary(stages={}, collection_errors=(TYPO,), pytest_status=1), (BLOCKED, f"{TYPO_WHY}; nothing was changed", 2)),
    (summary(collection_errors=(TYPO,), pytest_status=1), (BLOCKED, f"{TYPO_WHY}; nothing was changed", 2)),
    (summary(collection_errors=(TYPO,), pytest_status=2), (BLOCKED, f"{TYPO_WHY}; nothing was changed", 2)),
    (summary(internal_errors=("RuntimeError: boom",)), (BLOCKED, "internal error: RuntimeError: boom; nothing was"
                                                                 " changed", 3)),
    (summary(failures=(failed("load", critical=False, crashed=True),), pytest_status=1),
     (BLOCKED, "worker crashed during load; nothing was changed", 1)),
    (summary(teardown_errors=("smoke: OSError: prober still running",), pytest_status=1),
     (BLOCKED, "teardown error in smoke: OSError: prober still running; nothing was changed", 1)),
    (summary(not_run=(NotRun("load test", "load", UNFINISHED),)),
     (BLOCKED, "1 release scenario(s) never finished: load test; nothing was changed", 1)),
    # 1 ROLLED BACK: a critical check failed, the rollback ran, every post-rollback check ran and passed
    (summary(failures=(failed(),), halt=CRITICAL_HALT, decision=ROLL_BACK_DEPLOY, rollback=ROLLED, changed=True,
             post_rollback_passed=("previous version serving",), pytest_status=1),
     (ROLLED_BACK, "critical failure in deploy", 1)),
    (summary(halt=INTERRUPT_HALT, rollback=ROLLED, changed=True, post_rollback_passed=("previous version serving",),
             decision=RollbackDecision(ROLLBACK, "run interrupted"), interrupted=True, pytest_status=2),
     (ROLLED_BACK, "run interrupted", 1)),
    (summary(rollback_only=True, rollback=ALREADY_ROLLED, decision=RollbackDecision(ROLLBACK, "--rollback-only"),
             changed=True, stages={}, post_rollback_passed=("previous version serving",)),
     (ROLLED_BACK, "--rollback-only", 1)),
    (summary(rollback=ROLLED, changed=True, post_rollback_passed=("previous version serving",)),
     (ROLLED_BACK, "rolled back", 1)),
    # 10 HALTED: stopped with changes in place, a person decides
    (summary(failures=(failed(outcome="INCONCLUSIVE"),), halt=CRITICAL_HALT, changed=True, pytest_status=1,
             decision=RollbackDecision(HALT, "inconclusive critical check in deploy: needs a person")),
     (HALTED, "inconclusive critical check in deploy: needs a person", 10)),
    (summary(failures=(failed(),), halt=CRITICAL_HALT, changed=True, pytest_status=1,
             decision=RollbackDecision(HALT, "critical failure in deploy; rollback disabled by --no-rollback")),
     (HALTED, "critical failure in deploy; rollback disabled by --no-rollback", 10)),
    (summary(failures=(failed(),), halt=CRITICAL_HALT, changed=True, pytest_status=1,
             decision=RollbackDecision(HALT, "critical failure in deploy; rollback.enabled is false")),
     (HALTED, "critical failure in deploy; rollback.enabled is false", 10)),
    (summary(halt=INTERRUPT_HALT, changed=True, interrupted=True,
             decision=RollbackDecision(HALT, "run interrupted; rollback disabled"), pytest_status=2),
     (HALTED, "run interrupted; rollback disabled", 10)),
    (summary(halt=CRITICAL_HALT, changed=True, pytest_status=1),
     (HALTED, "release halted: critical failure in deploy", 10)),
    # ... a rollback that no post-rollback check verified: after SIGTERM under xdist the workers are gone and the
    # post-rollback scenario never runs; none selected; inconclusive; its worker crashed
    (summary(halt=INTERRUPT_HALT, rollback=ROLLED, changed=True, not_run=(PREVIOUS_NOT_RUN,),
             decision=RollbackDecision(ROLLBACK, "run interrupted"), interrupted=True, pytest_status=2),
     (HALTED, "run interrupted; the rollback ran, but 1 post-rollback check(s) did not pass: previous version"
              " serving (never finished); whether the previous state is back is unknown", 10)),
    (summary(failures=(failed(),), halt=CRITICAL_HALT, decision=ROLL_BACK_DEPLOY, rollback=ROLLED, changed=True,
             pytest_status=1),
     (HALTED, "critical failure in deploy; the rollback ran, but no @post-rollback check verified it; whether the"
              " previous state is back is unknown", 10)),
    (summary(rollback_only=True, rollback=ALREADY_ROLLED, decision=RollbackDecision(ROLLBACK, "--rollback-only"),
             changed=True, stages={}),
     (HALTED, "--rollback-only; the rollback ran, but no @post-rollback check verified it; whether the previous"
              " state is back is unknown", 10)),
    (summary(failures=(failed(), failed("previous version serving", post_rollback=True, outcome="INCONCLUSIVE"),
                       failed("schema back", post_rollback=True, crashed=True)),
             halt=CRITICAL_HALT, decision=ROLL_BACK_DEPLOY, rollback=ROLLED, changed=True, pytest_status=1),
     (HALTED, "critical failure in deploy; the rollback ran, but 2 post-rollback check(s) did not pass: previous"
              " version serving (inconclusive), schema back (worker crashed); whether the previous state is back is"
              " unknown", 10)),
    # ... the outcome is unknown with changes in place
    (summary(failures=(failed("load", critical=False, crashed=True),), changed=True, pytest_status=1),
     (HALTED, "worker crashed during load; changes are in place", 10)),
    (summary(not_run=(NotRun("load test", "load", UNFINISHED),), changed=True),
     (HALTED, "1 release scenario(s) never finished: load test; changes are in place", 10)),
    (summary(collection_errors=(TYPO,), changed=True, pytest_status=1),
     (HALTED, f"{TYPO_WHY}; changes are in place", 2)),
    # 11 ROLLBACK FAILED: a rollback action or a post-rollback check failed
    (summary(failures=(failed(),), halt=CRITICAL_HALT, decision=ROLL_BACK_DEPLOY, rollback=ROLLBACK_ACTION_FAILED,
             changed=True, pytest_status=1), (ROLLBACK_FAILED, "1 rollback action(s) failed", 11)),
    (summary(failures=(failed(), failed("previous version serving", critical=False, post_rollback=True)),
             halt=CRITICAL_HALT, decision=ROLL_BACK_DEPLOY, rollback=ROLLED, changed=True, pytest_status=1),
     (ROLLBACK_FAILED, "1 post-rollback check(s) failed after the rollback", 11)),
    (summary(rollback_only=True, rollback=ROLLBACK_ACTION_FAILED, stages={}, changed=True, pytest_status=0),
     (ROLLBACK_FAILED, "1 rollback action(s) failed", 11)),
    # --rollback-only without a @post-rollback scenario (pytest: 5, nothing selected): the built-in verification
    (summary(rollback_only=True, rollback=ROLLED, decision=RollbackDecision(ROLLBACK, "--rollback-only"), stages={},
             changed=True, pytest_status=5, failures=(BUILT_IN_FAILED,)),
     (ROLLBACK_FAILED, "1 post-rollback check(s) failed after the rollback", 11)),
    (summary(rollback_only=True, rollback=ROLLED, decision=RollbackDecision(ROLLBACK, "--rollback-only"), stages={},
             changed=True, pytest_status=5, post_rollback_passed=("built-in: api serves 1.0.0",)),
     (ROLLED_BACK, "--rollback-only", 1)),
    (summary(rollback_only=True, rollback=ROLLED, decision=RollbackDecision(ROLLBACK, "--rollback-only"), stages={},
             changed=True, pytest_status=5, post_rollback_passed=("built-in: api serves 1.0.0",),
             failures=(failed("built-in: schema version is 0002", post_rollback=True, outcome="INCONCLUSIVE"),)),
     (HALTED, "--rollback-only; the rollback ran, but 1 post-rollback check(s) did not pass: built-in: schema version"
              " is 0002 (inconclusive); whether the previous state is back is unknown", 10)),
    # 12 PASSED: what ran passed, but it was not the whole release (-k, -m, node ids, skips, no deploy stage)
    (summary(stages=SUBSET, not_run=DESELECTED_TWO, changed=True),
     (f"{PASSED} (partial: 2 of 4 scenarios)", "2 release scenario(s) did not run: smoke checks pass (deselected),"
      " load test (deselected); the changes it made are in place", 12)),
    (summary(stages={**RAN, "load": StageCounts(collected=1, skipped=1)},
             not_run=(NotRun("load test", "load", SKIPPED, "unconditional skip"),)),
     (f"{PASSED} (partial: 2 of 3 scenarios)", "1 release scenario(s) did not run: load test (skipped:"
      " unconditional skip)", 12)),
    (summary(stages={"preflight": StageCounts(collected=1, ran=1, passed=1)}),
     (f"{PASSED} (no deploy)", "no @deploy scenario ran: the release was not deployed", 12)),
    (summary(stages={"migrate": StageCounts(collected=1, ran=1, passed=1)}, changed=True),
     (f"{PASSED} (no deploy)", "no @deploy scenario ran: the release was not deployed; the changes it made are in"
      " place", 12)),
    (summary(stages={"preflight": StageCounts(collected=1, ran=1, passed=1), "deploy": StageCounts(deselected=1)},
             not_run=(NotRun("deploy", "deploy", DESELECTED),)),
     (f"{PASSED} (partial: 1 of 2 scenarios)", "1 release scenario(s) did not run: deploy (deselected); no @deploy"
      " scenario ran: the release was not deployed", 12)),
    # 2, 3, 4, 5: pytest's own exit status is kept; the decision is BLOCKED
    (summary(pytest_status=2), (BLOCKED, "pytest ended with exit status 2; nothing was changed", 1)),
    (summary(pytest_status=3), (BLOCKED, "pytest ended with exit status 3; nothing was changed", 3)),
    (summary(pytest_status=4, stages={}), (BLOCKED, "pytest ended with exit status 4; nothing was changed", 4)),
    (summary(pytest_status=5, stages={}), (BLOCKED, "pytest ended with exit status 5; nothing was changed", 5)),
    # a run pytest stopped itself (-x under -n 2 ends with 2, without -n with 1) exits with its decision's code
    (summary(pytest_status=2, not_run=(NotRun("load test", "load", UNFINISHED),)),
     (BLOCKED, "1 release scenario(s) never finished: load test; nothing was changed", 1)),
    (summary(pytest_status=2, halt=CRITICAL_HALT, decision=ROLL_BACK_DEPLOY, rollback=ROLLED, changed=True,
             post_rollback_passed=("previous version serving",)),
     (ROLLED_BACK, "critical failure in deploy", 1)),
    (summary(pytest_status=3, halt=CRITICAL_HALT, changed=True), (HALTED, "release halted: critical failure in deploy",
                                                                  3)),
]


@pytest.mark.parametrize(("run", "expected"), VERDICT_CASES,
                         ids=lambda value: repr(value) if isinstance(value, tuple) else "")
def test_verdict(run: RunSummary, expected: tuple[str, str, int]) -> None:
    decided = verdict(run)
    assert (decided.label, decided.why, decided.exit_code) == expected
    assert decided.decision in EXIT_CODES and (decided.qualifier != "") == (decided.decision == PASSED)


def test_summary_counts_release_scenarios_apart_from_post_rollback_checks() -> None:
    run = summary(stages=NOTHING_RAN, failures=(failed(), failed("after", post_rollback=True)))
    assert run.release_scenarios_ran == 0
    assert [f.scenario for f in run.release_failures] == ["deploy"]
    assert [f.scenario for f in run.post_rollback_failures] == ["after"]


def test_every_row_of_the_readme_exit_code_table_has_a_verdict_case() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    table = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([\d, ]+) \| \(?([A-Z][A-Z ]+)\)? \|", table, re.M)
    assert len(rows) >= 8, table
    covered = {(label.split(" (")[0], code) for _, (label, _, code) in VERDICT_CASES}
    for codes, decision in rows:
        for code in (int(c) for c in codes.split(",")):
            assert (decision, code) in covered, f"README row {code} {decision} has no case in VERDICT_CASES"


def test_every_decision_has_a_row_in_the_readme_exit_code_table() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    table = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = {(decision, int(code)) for codes, decision in re.findall(r"^\| ([\d, ]+) \| ([A-Z][A-Z ]+) \|", table, re.M)
            for code in codes.split(",")}
    assert {(decision, code) for decision, code in EXIT_CODES.items()} <= rows, table
