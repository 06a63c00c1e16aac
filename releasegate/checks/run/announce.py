"""The name steps call for the team notification check: ``announce.notify`` is ``notify.notify_team``."""

from __future__ import annotations

from releasegate.checks.run.notify import notify_team as notify

__all__ = ["notify"]
