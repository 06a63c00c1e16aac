"""What a judgement found, as frozen dataclasses the evidence can show and ``to_dict`` turns into JSON.

NaN (a mean ratio with a zero mean, a statistic that was not computed) and an infinity (the max of
an infinite sample, which is an Error) become ``None`` in ``to_dict``, so the JSON is strict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from releasegate.checks.slo.judge.stats import SampleStats

MetricLabel = Literal["Pass", "High", "Low", "Nodata", "NodataFailMetric", "Error"]
ScoreLabel = Literal["Pass", "Marginal", "Fail"]


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


@dataclass(frozen=True)
class Sample:
    """One side (control or experiment) of one metric: how many values came in, how many preprocessing
    removed (NaN removed or replaced by 0, outliers removed), and the summary of what was compared."""

    received: int
    nan: int
    outliers: int
    stats: SampleStats

    @property
    def count(self) -> int:
        return self.stats.count

    def to_dict(self) -> dict[str, Any]:
        return {"received": self.received, "nan": self.nan, "outliers_removed": self.outliers,
                "count": self.count, "stats": {k: _num(v) for k, v in self.stats.to_dict().items()}}


@dataclass(frozen=True)
class MetricResult:
    """One metric's classification, with what it was derived from.

    ``critical`` is Kayenta's flag on the result (a critical metric that failed hard enough to fail
    the judgement), not the configuration's. ``estimate``, ``lower`` and ``upper`` (the Hodges-Lehmann
    shift experiment - control and its confidence interval), ``effect_size`` and ``noise_added`` are
    set only when the Mann-Whitney test ran. ``deviation`` is the mean ratio Kayenta reports (1.0 when
    the test did not run, NaN when a mean is 0).
    """

    name: str
    label: MetricLabel
    reason: str | None
    critical: bool
    muted: bool
    groups: tuple[str, ...]
    direction: str
    control: Sample
    experiment: Sample
    deviation: float = 1.0
    estimate: float | None = None
    lower: float | None = None
    upper: float | None = None
    tolerance_band: tuple[float, float] | None = None
    effect_size_measure: str = "meanRatio"
    effect_size: float | None = None
    noise_added: bool = False

    def to_dict(self) -> dict[str, Any]:
        band = None if self.tolerance_band is None else [_num(v) for v in self.tolerance_band]
        return {
            "name": self.name, "label": self.label, "reason": self.reason, "critical": self.critical,
            "muted": self.muted, "groups": list(self.groups), "direction": self.direction,
            "estimate": _num(self.estimate),
            "confidence_interval": None if self.lower is None else [_num(self.lower), _num(self.upper)],
            "tolerance_band": band, "deviation": _num(self.deviation),
            "effect_size": {"measure": self.effect_size_measure, "value": _num(self.effect_size)},
            "noise_added": self.noise_added,
            "control": self.control.to_dict(), "experiment": self.experiment.to_dict(),
        }


@dataclass(frozen=True)
class GroupScore:
    """``WeightedSumScorer``'s group score: Pass / (Pass + High + Low + NodataFailMetric) x 100;
    ``no_data`` when that denominator is 0 (the group then counts as 100 in the summary)."""

    name: str
    score: float
    no_data: bool
    weight: float
    label_counts: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "score": self.score, "no_data": self.no_data, "weight": self.weight,
                "label_counts": dict(self.label_counts)}


@dataclass(frozen=True)
class Judgement:
    """One judgement: every metric's result, the group scores, the score and its classification."""

    metrics: tuple[MetricResult, ...]
    groups: tuple[GroupScore, ...]
    score: float
    classification: ScoreLabel
    reason: str | None
    pass_threshold: float
    marginal_threshold: float

    @property
    def passed(self) -> bool:
        return self.classification == "Pass"

    def metric(self, name: str) -> MetricResult:
        return next(result for result in self.metrics if result.name == name)

    @property
    def errors(self) -> tuple[str, ...]:
        """The metrics labelled Error. Kayenta's score ignores them (a group of Errors counts as 100),
        so a caller that must not pass what it could not measure has to look here."""
        return tuple(result.name for result in self.metrics if result.label == "Error")

    def to_dict(self) -> dict[str, Any]:
        return {
            "classification": self.classification, "score": self.score, "reason": self.reason,
            "thresholds": {"pass": self.pass_threshold, "marginal": self.marginal_threshold},
            "groups": [group.to_dict() for group in self.groups],
            "metrics": [metric.to_dict() for metric in self.metrics],
        }


@dataclass(frozen=True)
class RunVerdict:
    """Several judgements of one canary (Kayenta's standalone canary analysis): ``passed`` when every
    score is above ``marginal`` and the last one reaches ``pass``; ``failed_at`` is the index of the
    judgement that ended the run (None when it passed)."""

    passed: bool
    message: str
    scores: tuple[float, ...]
    failed_at: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "message": self.message, "scores": list(self.scores),
                "failed_at": self.failed_at}
