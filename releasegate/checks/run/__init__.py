"""One release run: the journal, the rollback plan and its execution, notifications, confirmations of manual items."""
