"""Shared pieces of the preflight and HTTP steps: the "within N seconds" suffix and name resolution.

``within_phrase('...')`` is a pytest-bdd parser for a ``parse`` pattern that also accepts an
optional trailing `` within N seconds``; the step then receives ``within`` (seconds, or None)
and runs its check through ``checks.retry.within``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_bdd import parsers

from releasegate.checks._support.retry import within as retry_within
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Runbook

WITHIN_SUFFIX = " [within N seconds]"
_WITHIN = re.compile(r"^(?P<body>.*) within (?P<seconds>\d+(?:\.\d+)?) seconds?$")


class within_phrase(parsers.parse):
    """A ``parse`` pattern with an optional " within N seconds" suffix (passed as ``within``)."""

    def __init__(self, pattern: str) -> None:
        super().__init__(pattern)
        self.name = pattern + WITHIN_SUFFIX

    def _split(self, text: str) -> tuple[str, float | None]:
        match = _WITHIN.match(text)
        if match is not None and self.parser.parse(match.group("body")) is not None:
            return match.group("body"), float(match.group("seconds"))
        return text, None

    def parse_arguments(self, name: str) -> dict[str, Any]:
        body, seconds = self._split(name)
        arguments = dict(self.parser.parse(body).named)
        arguments["within"] = seconds
        return arguments

    def is_matching(self, name: str) -> bool:
        body, _ = self._split(name)
        try:
            return self.parser.parse(body) is not None
        except ValueError:
            return False


def retry_interval(timeout_s: float) -> float:
    """Poll about twenty times within the timeout, between 0.2 s and 2 s apart."""
    return min(2.0, max(0.2, timeout_s / 20))


def run(check: Callable[[], CheckResult], within: float | None) -> CheckResult:
    """Run a check once, or until it passes within ``within`` seconds."""
    if within is None:
        return check()
    return retry_within(check, within, retry_interval(within))


def split_list(text: str) -> list[str]:
    """ "A, B, C" -> ["A", "B", "C"] (commas separate items in step phrases)."""
    return [item.strip() for item in text.split(",") if item.strip()]


def project_root(runbook: Runbook | None) -> Path:
    """Relative paths in steps are relative to the project: the folder above runbooks/."""
    if runbook is not None and runbook.path is not None:
        return runbook.path.resolve().parent.parent
    return Path.cwd()


def project_path(runbook: Runbook | None, path: str) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else project_root(runbook) / candidate


def is_url(text: str) -> bool:
    return bool(re.match(r"^https?://", text))


def unknown_name(check: str, message: str) -> CheckResult:
    """A step that names something the runbook does not have: not a pass, and says what to do."""
    return CheckResult.unknown(check, message)
