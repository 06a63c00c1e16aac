"""Reading SLO phrases: "the error rate of "demo-api" stays below 1% for 2 minutes, sampled every 10 seconds".

``slo_phrase()`` is a pytest-bdd parser that hands the step one argument, ``ask``
(``checks.slo.Ask``); its readable ``name`` is what --list-steps and the README show.
"""

from __future__ import annotations

import re
from typing import Any

from pytest_bdd import parsers

from releasegate.checks.errors import ConfigError
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Runbook
from releasegate.checks.slo import metrics as slo
from releasegate.checks.slo.analysis import Condition
from releasegate.checks.slo.metrics import Ask

_NUMBER = r"\d+(?:\.\d+)?"
_MEASURE = r"(?P<measure>error rate|success rate|availability|request rate|p(?P<q>\d{1,2}(?:\.\d+)?) latency)"
_SUBJECT = r'(?P<subject>"[^"]+"|version "[^"]+"(?: of "[^"]+")?|"[^"]+" version "[^"]+")'
_RELATION = r"(?P<relation>(?:stays|is) (?:below|under|above|at least|at most))"
_UNIT = r"(?P<unit>%|ms|milliseconds?|s|seconds?|requests per second|requests/s|per second|/s|rps)?"
_OPTIONS = r"(?P<options>(?:,? .*)?)"
_LOAD = r'(?:while the load profile "(?P<load>[^"]+)" runs, )'
_TIME = rf"(?P<n>{_NUMBER})\s*(?P<unit>seconds?|minutes?|s|m)"
_OPTION_PATTERNS = {
    "for": re.compile(rf"for {_TIME}"),
    "every": re.compile(rf"sampled every {_TIME}"),
    "after": re.compile(rf"after {_TIME}"),
    "tolerating": re.compile(r"tolerating (?P<n>\d+) failures?"),
    "consecutive": re.compile(r"(?:with|until) (?P<n>\d+) consecutive successes"),
    "dry_run": re.compile(r"(?:as a dry run|in dry-run mode|\(dry run\))"),
}
_THRESHOLD = re.compile(rf"^the {_MEASURE} of {_SUBJECT} {_RELATION} (?P<amount>{_NUMBER})\s*{_UNIT}{_OPTIONS}$")
_COMPARISON = re.compile(
    rf"^the {_MEASURE} of {_SUBJECT} (?:stays|is) within (?P<tolerance>{_NUMBER})% of "
    rf'(?:version "(?P<baseline>[^"]+)"|the recorded baseline){_OPTIONS}$'
)
_ALERTS = re.compile(rf'^no alert is firing(?: for "(?P<service>[^"]+)"){{0,1}}{_OPTIONS}$')
_KINDS = {"error rate": "error_rate", "success rate": "success_rate", "availability": "success_rate",
          "request rate": "request_rate"}
_OPS = {"below": "<", "under": "<", "above": ">", "at least": ">=", "at most": "<="}

THRESHOLD_NAME = (
    'the <error rate|success rate|availability|pNN latency|request rate> of "SERVICE" [version "V"]'
    " <stays|is> <below|above|at least|at most> N<%|ms|seconds|per second>"
    " [for N seconds|minutes][, sampled every N seconds][, tolerating N failures][, after N seconds]"
    "[, with N consecutive successes][, as a dry run]"
)
COMPARISON_NAME = (
    'the <error rate|success rate|pNN latency|request rate> of version "NEW" [of "SERVICE"]'
    ' <stays|is> within N% of <version "OLD"|the recorded baseline> [options as above]'
)
ALERTS_NAME = 'no alert is firing [for "SERVICE"] [for N seconds][, sampled every N seconds]'


class slo_phrase(parsers.StepParser):
    """One of the SLO phrase families ("threshold", "comparison", "alerts"), optionally under a load profile."""

    def __init__(self, family: str, *, under_load: bool = False) -> None:
        self.family = family
        self.under_load = under_load
        name = {"threshold": THRESHOLD_NAME, "comparison": COMPARISON_NAME, "alerts": ALERTS_NAME}[family]
        super().__init__('while the load profile "NAME" runs, ' + name if under_load else name)

    def parse_arguments(self, name: str) -> dict[str, Any] | None:
        load = None
        if self.under_load:
            match = re.match(_LOAD, name)
            if match is None:
                return None
            load, name = match.group("load"), name[match.end():]
        ask = read(self.family, name)
        if ask is None:
            return None
        return {"ask": ask, "load": load} if self.under_load else {"ask": ask}

    def is_matching(self, name: str) -> bool:
        return self.parse_arguments(name) is not None


def read(family: str, text: str) -> Ask | None:
    """The Ask a phrase of one family means, or None when the phrase is not of that family."""
    if family == "threshold":
        match = _THRESHOLD.match(text)
        if match is None:
            return None
        kind, quantile = _kind(match)
        options = _options(match.group("options"))
        if options is None:
            return None
        amount = _amount(kind, float(match.group("amount")), match.group("unit") or "")
        if amount is None:
            return None
        verb, _, direction = match.group("relation").partition(" ")
        service, version = _subject(match.group("subject"))
        return Ask(kind, service, version, Condition(_OPS[direction], amount), quantile,
                   hold=verb == "stays", **options)
    if family == "comparison":
        match = _COMPARISON.match(text)
        if match is None:
            return None
        kind, quantile = _kind(match)
        options = _options(match.group("options"))
        if options is None:
            return None
        service, version = _subject(match.group("subject"))
        return Ask(kind, service, version, None, quantile, hold=True, tolerance=float(match.group("tolerance")) / 100,
                   baseline_version=match.group("baseline"), recorded=match.group("baseline") is None, **options)
    match = _ALERTS.match(text)
    if match is None:
        return None
    options = _options(match.group("options"))
    if options is None:
        return None
    return Ask("alerts", match.group("service"), None, Condition("==", 0), hold="duration_s" in options, **options)


def _kind(match: re.Match[str]) -> tuple[str, float | None]:
    measure = match.group("measure")
    if match.group("q"):
        return "latency", float(match.group("q")) / 100
    return _KINDS[measure], None


def _subject(text: str) -> tuple[str | None, str | None]:
    quoted = re.findall(r'"([^"]+)"', text)
    if text.startswith("version "):
        return (quoted[1] if len(quoted) > 1 else None), quoted[0]
    return quoted[0], (quoted[1] if len(quoted) > 1 else None)


def _amount(kind: str, value: float, unit: str) -> float | None:
    if kind in ("error_rate", "success_rate"):
        if unit == "%":
            return value / 100
        return value if unit == "" and value <= 1 else None
    if kind == "latency":
        if unit in ("ms", "millisecond", "milliseconds"):
            return value / 1000
        return value if unit in ("", "s", "second", "seconds") else None
    return value if unit in ("", "per second", "requests per second", "requests/s", "/s", "rps") else None


def _seconds(match: re.Match[str]) -> float:
    value = float(match.group("n"))
    return value * 60 if match.group("unit").startswith("m") else value


def _options(text: str) -> dict[str, Any] | None:
    """Keyword arguments of Ask from ", sampled every 10 seconds, tolerating 1 failure"; None if a part is unknown."""
    found: dict[str, Any] = {}
    for part in (p.strip() for p in re.split(r",\s*|\s+(?=for \d)|\s+(?=\(dry run\))", text)):
        if not part:
            continue
        for key, pattern in _OPTION_PATTERNS.items():
            match = pattern.fullmatch(part)
            if match is None:
                continue
            if key == "for":
                found["duration_s"] = _seconds(match)
            elif key == "every":
                found["interval_s"] = _seconds(match)
            elif key == "after":
                found["initial_delay_s"] = _seconds(match)
            elif key == "tolerating":
                found["failure_limit"] = int(match.group("n"))
            elif key == "consecutive":
                found["consecutive_successes"] = int(match.group("n"))
            else:
                found["dry_run"] = True
            break
        else:
            return None
    return found


def measure(runbook: Runbook, ask: Ask, name: str) -> CheckResult:
    """Run the analysis a phrase asks for; a phrase the runbook cannot serve is INCONCLUSIVE with the fix."""
    try:
        metric = slo.metric_for(runbook, ask)
    except ConfigError as exc:
        return CheckResult.unknown(name, str(exc))
    return slo.run(runbook, [metric], metric.name)
