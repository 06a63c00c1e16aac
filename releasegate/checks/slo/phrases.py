"""The grammar of the SLO step phrases: what "the error rate of "demo-api" stays below 1% for 2 minutes,
sampled every 10 seconds" asks for, as an ``Ask``.

Three families: a threshold ("the p95 latency of "X" is below 500 ms"), a comparison with the
previous version or the recorded baseline ("... is within 10% of version "1.0.0""), and alerts
("no alert is firing for "X""); each may be prefixed with ``while the load profile "NAME" runs, ``.
Plain Python: the pytest-bdd parser (``steps._phrases.slo_phrase``) calls ``read``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from releasegate.checks.slo.analysis import Condition

Family = Literal["threshold", "comparison", "alerts"]

_NUMBER = r"\d+(?:\.\d+)?"
_MEASURE = r"(?P<measure>error rate|success rate|availability|request rate|p(?P<q>\d{1,2}(?:\.\d+)?) latency)"
_SUBJECT = r'(?P<subject>"[^"]+"|version "[^"]+"(?: of "[^"]+")?|"[^"]+" version "[^"]+")'
_RELATION = r"(?P<relation>(?:stays|is) (?:below|under|above|at least|at most))"
_UNIT = r"(?P<unit>%|ms|milliseconds?|s|seconds?|requests per second|requests/s|per second|/s|rps)?"
_OPTIONS = r"(?P<options>(?:,? .*)?)"
_LOAD = re.compile(r'(?:while the load profile "(?P<load>[^"]+)" runs, )')
_TIME = rf"(?P<n>{_NUMBER})\s*(?P<unit>seconds?|minutes?|s|m)"
# each option of a phrase sets one field of checks.slo.timing.Timing
_OPTION_PATTERNS = {
    "duration_s": re.compile(rf"for {_TIME}"),
    "interval_s": re.compile(rf"sampled every {_TIME}"),
    "initial_delay_s": re.compile(rf"after {_TIME}"),
    "failure_limit": re.compile(r"tolerating (?P<n>\d+) failures?"),
    "consecutive_successes": re.compile(r"(?:with|until) (?P<n>\d+) consecutive successes"),
    "dry_run": re.compile(r"(?:as a dry run|in dry-run mode|\(dry run\))"),
}
_THRESHOLD = re.compile(rf"^the {_MEASURE} of {_SUBJECT} {_RELATION} (?P<amount>{_NUMBER})\s*{_UNIT}{_OPTIONS}$")
_COMPARISON = re.compile(
    rf"^the {_MEASURE} of {_SUBJECT} (?:stays|is) within (?P<tolerance>{_NUMBER})% of "
    rf'(?:version "(?P<baseline>[^"]+)"|the recorded baseline){_OPTIONS}$'
)
_ALERTS = re.compile(rf'^no alert is firing(?: for "(?P<service>[^"]+)"){{0,1}}{_OPTIONS}$')
_PATTERNS: dict[Family, re.Pattern[str]] = {"threshold": _THRESHOLD, "comparison": _COMPARISON, "alerts": _ALERTS}
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
UNDER_LOAD_PREFIX = 'while the load profile "NAME" runs, '
NAMES: dict[Family, str] = {"threshold": THRESHOLD_NAME, "comparison": COMPARISON_NAME, "alerts": ALERTS_NAME}


@dataclass(frozen=True)
class Ask:
    """One SLO measurement as a step phrase asks for it; what it leaves unsaid comes from the runbook's slo section.

    ``condition`` judges the value; for a comparison, ``tolerance`` with ``baseline_version``
    (the previous version's live figures) or ``recorded`` (the runbook's slo.baseline figure).
    ``hold`` says whether the phrase asks that the value *stays* so (measured for a duration)
    or *is* so (measured once). ``timing`` holds the ``Timing`` fields the phrase sets.
    """

    kind: str
    service: str | None = None
    version: str | None = None
    condition: Condition | None = None
    quantile: float | None = None
    hold: bool = True
    timing: dict[str, Any] = field(default_factory=dict)
    tolerance: float | None = None
    baseline_version: str | None = None
    recorded: bool = False


def read(family: Family, text: str) -> Ask | None:
    """The Ask a phrase of one family means, or None when the phrase is not of that family."""
    match = _PATTERNS[family].match(text)
    timing = _timing(match.group("options")) if match is not None else None
    if match is None or timing is None:
        return None
    if family == "alerts":
        return Ask("alerts", match.group("service"), None, Condition("==", 0), hold="duration_s" in timing,
                   timing=timing)
    kind, quantile = _kind(match)
    service, version = _subject(match.group("subject"))
    if family == "comparison":
        return Ask(kind, service, version, None, quantile, hold=True, timing=timing,
                   tolerance=float(match.group("tolerance")) / 100, baseline_version=match.group("baseline"),
                   recorded=match.group("baseline") is None)
    amount = _amount(kind, float(match.group("amount")), match.group("unit") or "")
    if amount is None:
        return None
    verb, _, direction = match.group("relation").partition(" ")
    return Ask(kind, service, version, Condition(_OPS[direction], amount), quantile, hold=verb == "stays",
               timing=timing)


def split_under_load(text: str) -> tuple[str, str] | None:
    """(load profile, rest of the phrase) of ``while the load profile "NAME" runs, ...``; None without the prefix."""
    match = _LOAD.match(text)
    if match is None:
        return None
    return match.group("load"), text[match.end():]


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


def _value(field_name: str, match: re.Match[str]) -> float | int | bool:
    if field_name == "dry_run":
        return True
    if field_name in ("failure_limit", "consecutive_successes"):
        return int(match.group("n"))
    seconds = float(match.group("n"))
    return seconds * 60 if match.group("unit").startswith("m") else seconds


def _timing(text: str) -> dict[str, Any] | None:
    """The Timing fields of ", sampled every 10 seconds, tolerating 1 failure"; None if a part is unknown."""
    found: dict[str, Any] = {}
    for part in (p.strip() for p in re.split(r",\s*|\s+(?=for \d)|\s+(?=\(dry run\))", text)):
        if not part:
            continue
        for field_name, pattern in _OPTION_PATTERNS.items():
            match = pattern.fullmatch(part)
            if match is not None:
                found[field_name] = _value(field_name, match)
                break
        else:
            return None
    return found
