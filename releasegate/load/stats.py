"""The statistics contract between the locustfile and the runner: what one stage did, and its verdict.

The locustfile (inside the Locust process) writes a ``StageRecord`` per stage to ``stages.json``
and stops the run early when ``breaches(..., final=False)`` finds a broken failure-ratio or p95
threshold; the runner reads the records back and judges every stage with ``breaches``. This
module imports nothing of releasegate, so the Locust process loads only what it needs.

Per stage: the failure ratio and p95 cover the whole stage; the request rate covers the part of
the stage after ``grace_s`` (the ramp-up is not held against it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MIN_REQUESTS_TO_ABORT = 20


@dataclass
class StageRecord:
    """What one stage did, as counted on the master (written by the locustfile)."""

    index: int
    users: int
    planned_s: float
    started_s: float
    ended_s: float
    steady_from_s: float
    requests: int
    failures: int
    steady_requests: int
    response_times_ms: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageRecord:
        return cls(**data)


def percentile(histogram_ms: dict[str, int], q: float) -> float | None:
    """The q-quantile (0..1) of a Locust response-time histogram {rounded ms: count}, as Locust computes it."""
    buckets = sorted(((float(ms), count) for ms, count in histogram_ms.items()), reverse=True)
    total = sum(count for _, count in buckets)
    if not total:
        return None
    wanted = total - int(total * q)
    seen = 0
    for ms, count in buckets:
        seen += count
        if seen >= wanted:
            return ms
    return 0.0


def stage_figures(record: StageRecord) -> dict[str, Any]:
    steady_s = record.ended_s - record.steady_from_s
    if steady_s <= 0:
        steady_s, steady_requests = record.ended_s - record.started_s, record.requests
    else:
        steady_requests = record.steady_requests
    return {
        "stage": record.index + 1,
        "users": record.users,
        "duration_s": round(record.ended_s - record.started_s, 2),
        "requests": record.requests,
        "failures": record.failures,
        "failure_ratio": record.failures / record.requests if record.requests else None,
        "p95_ms": percentile(record.response_times_ms, 0.95),
        "rps": steady_requests / steady_s if steady_s > 0 else None,
    }


def breaches(figures: dict[str, Any], thresholds: dict[str, Any], *, final: bool = True) -> list[str]:
    """The thresholds a stage breaks; while running (``final=False``) only failure ratio and p95 count."""
    found: list[str] = []
    requests = figures["requests"]
    if not final and requests < MIN_REQUESTS_TO_ABORT:
        return found
    ratio_max, p95_max, min_rps = thresholds.get("failure_ratio_max"), thresholds.get("p95_ms_max"), \
        thresholds.get("min_rps")
    stage = f"stage {figures['stage']}"
    if ratio_max is not None and figures["failure_ratio"] is not None and figures["failure_ratio"] > ratio_max:
        found.append(f"{stage}: failure ratio {figures['failure_ratio']:.2%} > {ratio_max:.2%}")
    if p95_max is not None and figures["p95_ms"] is not None and figures["p95_ms"] > p95_max:
        found.append(f"{stage}: p95 {figures['p95_ms']:g}ms > {p95_max:g}ms")
    if final and min_rps is not None and (figures["rps"] or 0.0) < min_rps:
        rps = figures["rps"] or 0.0
        found.append(f"{stage}: {rps:.1f} requests/s < {min_rps:g}/s")
    if final and requests == 0:
        found.append(f"{stage}: no request was made")
    return found
