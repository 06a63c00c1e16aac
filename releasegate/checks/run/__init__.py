"""One release run: the journal, the release policy (decision), the rollback plan and its execution,
notifications, confirmations of manual items.

Nothing here imports pytest or the plugins: the plugins drive a run through these names.
"""

from releasegate.checks.run import decision
from releasegate.checks.run.changes import Change, ChangeHandle, ChangeRecorder
from releasegate.checks.run.confirmations import Confirmation, Confirmations
from releasegate.checks.run.journal import DeferredJournal, Journal, UndoStep, Unfinished, new_run_id
from releasegate.checks.run.notify import Delivery, Notifier, notify_team
from releasegate.checks.run.rollback_plan import (
    PendingPlan,
    RollbackAction,
    RollbackReport,
    StepOutcome,
    describe_action,
    execute_plan,
    pending_plan,
    register_action,
    registered_actions,
    resolve_action,
    run_command,
    unregister_action,
)

__all__ = [
    "Change",
    "ChangeHandle",
    "ChangeRecorder",
    "Confirmation",
    "Confirmations",
    "DeferredJournal",
    "Delivery",
    "Journal",
    "Notifier",
    "PendingPlan",
    "RollbackAction",
    "RollbackReport",
    "StepOutcome",
    "UndoStep",
    "Unfinished",
    "decision",
    "describe_action",
    "execute_plan",
    "new_run_id",
    "notify_team",
    "pending_plan",
    "register_action",
    "registered_actions",
    "resolve_action",
    "run_command",
    "unregister_action",
]
