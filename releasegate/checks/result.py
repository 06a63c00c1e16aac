"""What every check returns: an outcome with the evidence behind it."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"


@dataclass
class CheckResult:
    """The outcome of one check, with what was observed and what was expected.

    ``evidence`` holds anything a reviewer needs to trust the verdict (samples, headers,
    command output); it is attached to the report as JSON, after redaction.
    """

    name: str
    outcome: Outcome
    observed: Any = None
    expected: Any = None
    detail: str = ""
    attempts: int = 1
    elapsed_s: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)
    checked_at: float = field(default_factory=time.time)

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAIL

    @property
    def inconclusive(self) -> bool:
        return self.outcome is Outcome.INCONCLUSIVE

    def summary(self) -> str:
        """One line for a terminal or a failure message."""
        text = f"{self.name}: {self.outcome.value} (observed {_short(self.observed)}, expected {_short(self.expected)})"
        if self.detail:
            text += f" - {self.detail}"
        if self.attempts > 1:
            text += f" [{self.attempts} attempts in {self.elapsed_s:.1f}s]"
        return text

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = self.outcome.value
        return data

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, default=str, sort_keys=False)

    @classmethod
    def ok(cls, name: str, observed: Any = None, expected: Any = None, **kwargs: Any) -> CheckResult:
        return cls(name, Outcome.PASS, observed, expected, **kwargs)

    @classmethod
    def fail(cls, name: str, observed: Any = None, expected: Any = None, **kwargs: Any) -> CheckResult:
        return cls(name, Outcome.FAIL, observed, expected, **kwargs)

    @classmethod
    def unknown(cls, name: str, detail: str, expected: Any = None, **kwargs: Any) -> CheckResult:
        """A check that could not reach its target: never a pass."""
        return cls(name, Outcome.INCONCLUSIVE, None, expected, detail=detail, **kwargs)

    @classmethod
    def judge(cls, name: str, passed: bool, observed: Any, expected: Any, **kwargs: Any) -> CheckResult:
        return cls(name, Outcome.PASS if passed else Outcome.FAIL, observed, expected, **kwargs)


def combine(name: str, results: list[CheckResult]) -> CheckResult:
    """One result for several: FAIL beats INCONCLUSIVE beats PASS."""
    if not results:
        return CheckResult.unknown(name, "nothing was checked")
    outcomes = {r.outcome for r in results}
    outcome = (
        Outcome.FAIL
        if Outcome.FAIL in outcomes
        else Outcome.INCONCLUSIVE
        if Outcome.INCONCLUSIVE in outcomes
        else Outcome.PASS
    )
    bad = [r.summary() for r in results if r.outcome is not Outcome.PASS]
    return CheckResult(
        name,
        outcome,
        observed={r.name: _short(r.observed) for r in results},
        expected={r.name: _short(r.expected) for r in results},
        detail="; ".join(bad),
        evidence={"checks": [r.as_dict() for r in results]},
    )


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
