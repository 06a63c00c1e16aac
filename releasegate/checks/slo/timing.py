"""How a metric is measured: when it starts, how often and how long, and how many bad measurements it tolerates.

The SLO timing fields are declared here only. The runbook's ``slo`` section gives the defaults,
an ``slo.metrics`` entry or a step phrase ("for 2 minutes, sampled every 10 seconds, tolerating 1
failure") changes some of them (``Timing.changed_by``), and the analysis engine reads them from
``Metric.timing``. What each field means for a verdict is described in ``checks.slo.analysis``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

NoDataPolicy = Literal["fail", "inconclusive", "pass"]


@dataclass(frozen=True)
class Timing:
    interval_s: float = 10.0
    count: int | None = None
    duration_s: float | None = None
    initial_delay_s: float = 0.0
    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_successes: int | None = None
    consecutive_error_limit: int = 3
    error_retry_s: float = 1.0
    no_data: NoDataPolicy = "inconclusive"
    dry_run: bool = False

    def with_(self, **changes: Any) -> Timing:
        """This timing with the fields given a value other than None changed.

        A count replaces a duration and a duration a count: a metric is measured one way or the other.
        """
        given = {name: value for name, value in changes.items() if value is not None}
        if "count" in given:
            given.setdefault("duration_s", None)
        elif "duration_s" in given:
            given.setdefault("count", None)
        return replace(self, **given)

    def changed_by(self, source: object) -> Timing:
        """This timing with the fields that ``source`` (a runbook section, an ``Ask``) sets.

        An attribute of the same name that is None is not set; nor is a ``dry_run`` that is False.
        """
        return self.with_(**{f.name: value for f in fields(self)
                             if (value := getattr(source, f.name, None)) is not None and value is not False})

    @property
    def planned(self) -> int:
        """How many measurements are taken when nothing ends the metric early."""
        if self.count is not None:
            return self.count
        if self.duration_s is not None:
            return int(self.duration_s // self.interval_s + 1e-9) + 1
        return 1

    def problems(self) -> list[str]:
        """What makes this timing unusable, one phrase each."""
        found = []
        if self.interval_s <= 0 or self.error_retry_s <= 0:
            found.append("interval and error retry must be positive")
        if self.count is not None and self.count < 1:
            found.append(f"count must be at least 1, got {self.count}")
        if self.duration_s is not None and self.duration_s < 0:
            found.append(f"duration must not be negative, got {self.duration_s}")
        if self.count is not None and self.duration_s is not None:
            found.append("give a count or a duration, not both")
        if min(self.failure_limit, self.inconclusive_limit, self.consecutive_error_limit) < 0:
            found.append("limits must not be negative")
        if self.consecutive_successes is not None and self.consecutive_successes < 1:
            found.append("consecutive successes must be at least 1")
        if self.no_data not in ("fail", "inconclusive", "pass"):
            found.append(f"no_data must be fail, inconclusive or pass, got {self.no_data!r}")
        return found

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_TIMING = Timing()
