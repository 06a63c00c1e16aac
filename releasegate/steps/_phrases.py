"""The pytest-bdd side of the step phrases, and what the steps share: project paths, lists, retries.

``within_phrase('...')`` is a pytest-bdd parser for a ``parse`` pattern that also accepts an
optional trailing `` within N seconds``; the step then receives ``within`` (seconds, or None)
and runs its check through ``checks._support.retry.within``.

``slo_phrase(family)`` parses the SLO phrases with the grammar of ``checks.slo.phrases``; the
step receives ``ask`` (``checks.slo.phrases.Ask``), and ``load`` (a load profile's name) when
the phrase begins with ``while the load profile "NAME" runs, ``. Its readable ``name`` is what
--list-steps and the README show.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pytest_bdd import parsers

from releasegate.checks._support.retry import within as retry_within
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Runbook
from releasegate.checks.runbook.options import project_dir
from releasegate.checks.slo import phrases

T = TypeVar("T")

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


class slo_phrase(parsers.StepParser):
    """One of the SLO phrase families ("threshold", "comparison", "alerts"), optionally under a load profile."""

    def __init__(self, family: phrases.Family, *, under_load: bool = False) -> None:
        self.family: phrases.Family = family
        self.under_load = under_load
        name = phrases.NAMES[family]
        super().__init__(phrases.UNDER_LOAD_PREFIX + name if under_load else name)

    def parse_arguments(self, name: str) -> dict[str, Any] | None:
        load = None
        if self.under_load:
            split = phrases.split_under_load(name)
            if split is None:
                return None
            load, name = split
        ask = phrases.read(self.family, name)
        if ask is None:
            return None
        return {"ask": ask, "load": load} if self.under_load else {"ask": ask}

    def is_matching(self, name: str) -> bool:
        return self.parse_arguments(name) is not None


def retry_interval(timeout_s: float) -> float:
    """Poll about twenty times within the timeout, between 0.2 s and 2 s apart."""
    return min(2.0, max(0.2, timeout_s / 20))


def run(check: Callable[[], CheckResult], within: float | None) -> CheckResult:
    """Run a check once, or until it passes within ``within`` seconds."""
    if within is None:
        return check()
    return retry_within(check, within, retry_interval(within))


def run_on(resolved: T | CheckResult, check: Callable[[T], CheckResult], within: float | None) -> CheckResult:
    """``check`` on what a name in the phrase resolved to (a URL, a host); the resolution's result if it failed."""
    if isinstance(resolved, CheckResult):
        return resolved
    return run(lambda: check(resolved), within)


def split_list(text: str) -> list[str]:
    """ "A, B, C" -> ["A", "B", "C"] (commas separate items in step phrases)."""
    return [item.strip() for item in text.split(",") if item.strip()]


def project_root(runbook: Runbook | None) -> Path:
    """Relative paths in steps are relative to the project: the folder above the runbooks folder."""
    return project_dir(runbook.path if runbook is not None else None)


def project_path(runbook: Runbook | None, path: str) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else project_root(runbook) / candidate


def is_url(text: str) -> bool:
    return bool(re.match(r"^https?://", text))


def unknown_name(check: str, message: str) -> CheckResult:
    """A step that names something the runbook does not have: not a pass, and says what to do."""
    return CheckResult.unknown(check, message)
