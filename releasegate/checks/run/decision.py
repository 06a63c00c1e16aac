"""The release policy as pure functions: stage order, what a dry run runs, when to roll back, the verdict.

Nothing here runs anything or reads a file: the plugins gather plain data (what was collected and
what ran, per stage; what failed, and whether it was critical or inconclusive; the flags of the run;
the rollback report) and ask these functions.

- ``classify`` and ``ScenarioInfo.rank``: a scenario's stage comes from its stage tag; stages run in
  ``STAGES`` order, scenarios without a stage next, ``@post-rollback`` scenarios last.
- ``dry_run_verdict``: why ``--dry-run`` skips a scenario, or None when it runs.
- ``decide_rollback``: the answer to a critical failure, an interrupt or ``--rollback-only``;
  ``settle_rollback``: a rollback with nothing to undo becomes "none".
- ``verdict``: the decision of the run and its exit code (the README's exit-code table), from what
  ran: PROMOTED only when every release scenario of the collected feature files ran to the end (a
  @deploy one among them) and no critical check failed; a collection, internal or teardown error, a
  worker crash or a scenario that never finished make the outcome unknown (BLOCKED, or HALTED with
  changes in place); a subset that passed is PASSED (partial); ROLLED BACK needs every selected
  @post-rollback check to have run and passed after the rollback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # plain data here; the module that runs rollbacks is not needed to judge one
    from releasegate.checks.run.rollback_plan import RollbackReport

STAGES = ("preflight", "backup", "migrate", "deploy", "smoke", "slo", "load")
POST_ROLLBACK = "post-rollback"
NO_STAGE = "other"
DESTRUCTIVE = ("backup", "migrate", "deploy", "destructive")


@dataclass(frozen=True)
class ScenarioInfo:
    """What the release policy needs to know of a collected scenario: its stage and its tags."""

    nodeid: str
    scenario: str
    stage: str | None
    critical: bool
    post_rollback: bool
    manual: bool
    destructive: bool
    preflight: bool

    @property
    def rank(self) -> int:
        if self.post_rollback:
            return len(STAGES) + 1
        return STAGES.index(self.stage) if self.stage else len(STAGES)

    @property
    def group(self) -> str:
        """The stage the scenario is listed under: its stage, ``post-rollback`` or ``other``."""
        return POST_ROLLBACK if self.post_rollback else (self.stage or NO_STAGE)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScenarioInfo:
        values: dict[str, Any] = {k: data.get(k) for k in cls.__dataclass_fields__}
        return cls(**values)


def classify(nodeid: str, scenario: str, tags: Iterable[str]) -> ScenarioInfo:
    names = set(tags)
    return ScenarioInfo(
        nodeid=nodeid,
        scenario=scenario,
        stage=next((stage for stage in STAGES if stage in names), None),
        critical="critical" in names,
        post_rollback=POST_ROLLBACK in names,
        manual="manual" in names,
        destructive=bool(names & set(DESTRUCTIVE)),
        preflight="preflight" in names,
    )


def has_stages(infos: Iterable[ScenarioInfo]) -> bool:
    return any(info.stage or info.post_rollback for info in infos)


def first_change_rank(infos: Iterable[ScenarioInfo]) -> int | None:
    """The rank of the first stage that changes the environment, if any."""
    ranks = [info.rank for info in infos if info.destructive and not info.post_rollback]
    return min(ranks) if ranks else None


def dry_run_verdict(info: ScenarioInfo, *, read_only: bool, change_rank: int | None) -> str | None:
    """Why a dry run skips this scenario, or None when it runs.

    ``read_only``: every step of the scenario is declared read-only (whatever its stage tag: a
    ``@preflight`` step that runs a command changes what the command changes). Read-only checks
    of a later stage than the first one that changes the environment would check a state that the
    dry run never produced (smoke checks of a deployment that was skipped).
    """
    if info.post_rollback:
        return "runs only after a rollback"
    if info.destructive:
        return f"{info.stage or 'destructive'} stage changes the environment"
    if not read_only:
        return "not a read-only check"
    if info.manual or info.preflight:
        return None
    if change_rank is not None and info.rank > change_rank:
        return "checks the result of a stage that the dry run skips"
    return None


# ---- the rollback decision ----------------------------------------------------------------

ROLLBACK, HALT, NONE = "rollback", "halt", "none"


@dataclass(frozen=True)
class RollbackDecision:
    """The controller's answer to the first critical failure (or an interrupt, or --rollback-only)."""

    action: str  # ROLLBACK, HALT (a person decides) or NONE
    reason: str


@dataclass(frozen=True)
class RollbackPolicy:
    """What the operator allowed: the command line's flags and the runbook's ``rollback:`` section."""

    dry_run: bool = False
    no_rollback: bool = False
    enabled: bool = True
    on_inconclusive: str = "halt"  # or "rollback"


@dataclass(frozen=True)
class FailedCheck:
    """A scenario that failed in its setup or its steps, or whose xdist worker crashed while running it."""

    nodeid: str
    scenario: str
    stage: str | None
    critical: bool
    post_rollback: bool
    outcome: str  # "FAIL" or "INCONCLUSIVE"
    message: str
    evidence: tuple[str, ...] = ()
    crashed: bool = False

    @property
    def inconclusive(self) -> bool:
        return self.outcome == "INCONCLUSIVE"


@dataclass(frozen=True)
class Interrupted:
    """SIGTERM or Ctrl-C during the run."""


@dataclass(frozen=True)
class RollbackOnly:
    """``--rollback-only``: finish the rollback of a run that died."""


Trigger = FailedCheck | Interrupted | RollbackOnly


def decide_rollback(trigger: Trigger, policy: RollbackPolicy, *, has_changes: bool) -> RollbackDecision:
    """Roll back, halt for a person, or do nothing; ``has_changes``: the journal's plan is not empty."""
    return settle_rollback(_asked(trigger, policy), has_changes=has_changes)


def _asked(trigger: Trigger, policy: RollbackPolicy) -> RollbackDecision:
    if policy.dry_run:  # also with --rollback-only: the plan is printed, not run
        return RollbackDecision(NONE, "dry run: nothing was changed")
    if isinstance(trigger, RollbackOnly):
        return RollbackDecision(ROLLBACK, "--rollback-only")
    if isinstance(trigger, Interrupted):
        if policy.no_rollback or not policy.enabled:
            return RollbackDecision(HALT, "run interrupted; rollback disabled")
        return RollbackDecision(ROLLBACK, "run interrupted")
    if trigger.inconclusive and policy.on_inconclusive != "rollback":
        return RollbackDecision(HALT, f"inconclusive critical check in {trigger.scenario}: needs a person")
    if policy.no_rollback:
        return RollbackDecision(HALT, f"critical failure in {trigger.scenario}; rollback disabled by --no-rollback")
    if not policy.enabled:
        return RollbackDecision(HALT, f"critical failure in {trigger.scenario}; rollback.enabled is false")
    cause = "worker crashed during" if trigger.crashed else "critical failure in"
    return RollbackDecision(ROLLBACK, f"{cause} {trigger.scenario}")


def settle_rollback(decision: RollbackDecision, *, has_changes: bool) -> RollbackDecision:
    """A rollback stands only while the plan has something to undo (asked again when it is about to run)."""
    if decision.action == ROLLBACK and not has_changes:
        return RollbackDecision(NONE, f"{decision.reason}; nothing to roll back: no stage had changed anything")
    return decision


# ---- the verdict --------------------------------------------------------------------------

PROMOTED, PASSED, DRY_RUN, BLOCKED, ROLLED_BACK, HALTED, ROLLBACK_FAILED = (
    "PROMOTED", "PASSED", "DRY RUN", "BLOCKED", "ROLLED BACK", "HALTED", "ROLLBACK FAILED")
EXIT_CODES = {PROMOTED: 0, DRY_RUN: 0, BLOCKED: 1, ROLLED_BACK: 1, HALTED: 10, ROLLBACK_FAILED: 11, PASSED: 12}
# pytest's own exit statuses (pytest.ExitCode), which a verdict keeps
TESTS_FAILED, INTERRUPTED, INTERNAL_ERROR, USAGE_ERROR, NO_TESTS_COLLECTED = 1, 2, 3, 4, 5
PYTEST_OWN = (INTERNAL_ERROR, USAGE_ERROR, NO_TESTS_COLLECTED)
NAMES_SHOWN = 5  # scenario names in a verdict's one line; the sign-off lists every one

# why a scenario of the collected feature files did not run its steps to the end
DESELECTED, SKIPPED, UNFINISHED = "deselected", "skipped", "never finished"


@dataclass(frozen=True)
class Halt:
    """Why the release stopped; the first halt of a run wins."""

    reason: str
    nodeid: str
    scenario: str
    kind: str  # "critical", "approval", "manual", "interrupted"


@dataclass(frozen=True)
class StageCounts:
    """Scenarios of one stage: selected, ran (their steps ran), how they ended, and those the selection left out."""

    collected: int = 0
    ran: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    deselected: int = 0


@dataclass(frozen=True)
class NotRun:
    """A scenario of the collected feature files that did not run its steps to the end (a pending manual item
    is not one: it is listed as pending)."""

    scenario: str
    group: str  # ScenarioInfo.group
    kind: str  # DESELECTED (-k, -m, --deselect, node ids), SKIPPED, UNFINISHED (no outcome was ever reported)
    detail: str = ""  # the skip reason

    @property
    def post_rollback(self) -> bool:
        return self.group == POST_ROLLBACK

    def describe(self) -> str:
        return f"{self.scenario} ({self.kind}{': ' + self.detail if self.detail else ''})"


@dataclass(frozen=True)
class RunSummary:
    """What a release run did, as the sign-off renders it and ``verdict`` judges it."""

    stages: Mapping[str, StageCounts] = field(default_factory=dict)  # by ScenarioInfo.group
    failures: tuple[FailedCheck, ...] = ()
    pending_manual: tuple[str, ...] = ()
    post_rollback_passed: tuple[str, ...] = ()
    not_run: tuple[NotRun, ...] = ()
    collection_errors: tuple[str, ...] = ()  # one line each, naming the file
    internal_errors: tuple[str, ...] = ()
    teardown_errors: tuple[str, ...] = ()  # "<scenario>: <error>": the scenario's checks ran, its cleanup failed
    halt: Halt | None = None
    decision: RollbackDecision | None = None  # the last one taken
    rollback: RollbackReport | None = None
    changed: bool = False  # the journal's rollback plan is not empty
    dry_run: bool = False
    rollback_only: bool = False
    interrupted: bool = False  # by a person (SIGTERM, Ctrl-C), not by pytest itself
    pytest_status: int = 0

    @property
    def release_failures(self) -> list[FailedCheck]:
        return [f for f in self.failures if not f.post_rollback]

    @property
    def post_rollback_failures(self) -> list[FailedCheck]:
        return [f for f in self.failures if f.post_rollback]

    @property
    def release_not_run(self) -> list[NotRun]:
        return [n for n in self.not_run if not n.post_rollback]

    @property
    def release_scenarios_ran(self) -> int:
        return sum(counts.ran for group, counts in self.stages.items() if group != POST_ROLLBACK)

    @property
    def release_scenarios(self) -> int:
        """The release scenarios of the collected feature files, selected or not."""
        return sum(c.collected + c.deselected for group, c in self.stages.items() if group != POST_ROLLBACK)


@dataclass(frozen=True)
class Verdict:
    decision: str  # a key of EXIT_CODES
    why: str
    exit_code: int
    qualifier: str = ""  # how partial a PASSED run was, e.g. "partial: 9 of 18 scenarios"

    @property
    def label(self) -> str:
        return f"{self.decision} ({self.qualifier})" if self.qualifier else self.decision


def verdict(summary: RunSummary) -> Verdict:
    decision, why, qualifier = _decision(summary)
    return Verdict(decision, why, exit_code(summary, decision), qualifier)


def exit_code(summary: RunSummary, decision: str) -> int:
    """The decision's exit code; pytest's own errors keep theirs, the same with or without -n.

    Under xdist pytest ends a run whose workers hit collection or internal errors with 1 or 0: such a
    run exits 2 or 3 as it does without -n. A run pytest stopped itself (-x: 1 without -n, 2 with)
    exits with its decision's code, and so does a ``--rollback-only`` that selected no scenario (5).
    """
    status = summary.pytest_status
    if status == NO_TESTS_COLLECTED and summary.rollback_only and summary.rollback is not None:
        return EXIT_CODES[decision]  # --rollback-only selects only @post-rollback scenarios: often none
    if status in PYTEST_OWN:
        return status
    if summary.internal_errors:
        return INTERNAL_ERROR
    if summary.collection_errors:
        return INTERRUPTED
    return EXIT_CODES[decision]


def _decision(summary: RunSummary) -> tuple[str, str, str]:
    rollback = summary.rollback
    if rollback is not None and (rollback.ran or summary.rollback_only):
        return (*_after_rollback(summary, rollback), "")
    if summary.dry_run:
        failures = summary.release_failures
        if unknown := _unknowns(summary):
            return BLOCKED, f"dry run: {unknown}", ""
        if failures or summary.pytest_status not in (0, TESTS_FAILED):
            return BLOCKED, f"dry run: {len(failures)} read-only check(s) failed", ""
        return DRY_RUN, "the plan is valid and every read-only check passed; nothing was changed", ""
    if summary.halt is not None or summary.decision is not None:
        reason = summary.decision.reason if summary.decision else (summary.halt.reason if summary.halt else "")
        if not summary.changed:
            return BLOCKED, f"{reason}; nothing was changed", ""
        return HALTED, reason, ""
    if unknown := _unknowns(summary):
        if summary.changed:
            return HALTED, f"{unknown}; changes are in place", ""
        return BLOCKED, f"{unknown}; nothing was changed", ""
    if summary.release_scenarios_ran == 0:
        return BLOCKED, "no release scenario ran", ""
    if partial := _partial(summary):
        return (PASSED, *partial)
    return PROMOTED, "every stage ran and no critical check failed", ""


def _after_rollback(summary: RunSummary, rollback: RollbackReport) -> tuple[str, str]:
    """ROLLED BACK only when every selected @post-rollback check ran and passed after the rollback."""
    if rollback.failed_steps:
        return ROLLBACK_FAILED, f"{len(rollback.failed_steps)} rollback action(s) failed"
    failed = [f for f in summary.post_rollback_failures if not (f.inconclusive or f.crashed)]
    if failed:
        return ROLLBACK_FAILED, f"{len(failed)} post-rollback check(s) failed after the rollback"
    reason = summary.decision.reason if summary.decision else "rolled back"
    unknown = [f"{f.scenario} ({'worker crashed' if f.crashed else 'inconclusive'})"
               for f in summary.post_rollback_failures]
    unknown += [n.describe() for n in summary.not_run if n.post_rollback]
    if unknown:
        return HALTED, (f"{reason}; the rollback ran, but {len(unknown)} post-rollback check(s) did not pass:"
                        f" {_names(unknown)}; whether the previous state is back is unknown")
    if not summary.post_rollback_passed:
        return HALTED, (f"{reason}; the rollback ran, but no @post-rollback check verified it; whether the"
                        " previous state is back is unknown")
    return ROLLED_BACK, reason


def _unknowns(summary: RunSummary) -> str:
    """Why the outcome of the run is not known (one line), or "" when it is."""
    found = [f"collection error: {error}" for error in summary.collection_errors]
    found += [f"internal error: {error}" for error in summary.internal_errors]
    found += [f"teardown error in {error}" for error in summary.teardown_errors]
    found += [f"worker crashed during {f.scenario}" for f in summary.release_failures if f.crashed]
    unfinished = [n.scenario for n in summary.release_not_run if n.kind == UNFINISHED]
    if unfinished:
        found.append(f"{len(unfinished)} release scenario(s) never finished: {_names(unfinished)}")
    status = summary.pytest_status
    if not found and (status in PYTEST_OWN or status == INTERRUPTED):
        found.append(f"pytest ended with exit status {status}")
    return "; ".join(found)


def _partial(summary: RunSummary) -> tuple[str, str] | None:
    """Why and qualifier of a run that passed but was not the whole release, or None.

    The release is every scenario of the collected feature files; one that was deselected (-k, -m,
    --deselect, node ids) or skipped did not run, and a run without a @deploy scenario released nothing.
    """
    missing = summary.release_not_run
    deployed = summary.stages.get("deploy", StageCounts()).ran > 0
    if not missing and deployed:
        return None
    ran, total = summary.release_scenarios_ran, summary.release_scenarios
    parts = []
    if missing:
        parts.append(f"{len(missing)} release scenario(s) did not run: {_names([n.describe() for n in missing])}")
    if not deployed:
        parts.append("no @deploy scenario ran: the release was not deployed")
    if summary.changed:
        parts.append("the changes it made are in place")
    qualifier = f"partial: {ran} of {total} scenarios" if missing else "no deploy"
    return "; ".join(parts), qualifier


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown + (f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else "")
