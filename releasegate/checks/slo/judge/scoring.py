"""The score of a judgement and its classification: Kayenta's ``ScoringHelper``, ``WeightedSumScorer``
and ``ThresholdScoreClassifier``; and the verdict of several judgements of one canary (Kayenta's
standalone canary analysis, ``MonitorCanaryTask`` and ``GenerateCanaryAnalysisResultTask``).

- muted metrics are left out of the scoring (their results are still reported);
- a group's score is Pass / (Pass + High + Low + NodataFailMetric) x 100; Nodata and Error count
  in no group score, and a group with none of those four labels counts as 100;
- the summary is the weighted sum of the group scores, weights in percent; groups without a weight
  share what the weights leave of 100; rounded half up to two decimals;
- a critical failure (a result flagged critical whose label is not Pass) makes the score 0, and so
  does Nodata on 50% or more of the scored metrics;
- score >= pass: Pass; >= marginal: Marginal; else Fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal

from releasegate.checks.slo.judge.config import JudgeConfig
from releasegate.checks.slo.judge.results import GroupScore, Judgement, MetricResult, RunVerdict, ScoreLabel

NODATA_THRESHOLD = 50
"""``WeightedSumScorer.NODATA_THRESHOLD``: percent of Nodata metrics that fails the judgement."""

_COUNTED = ("Pass", "High", "Low", "NodataFailMetric")


def group_scores(results: Sequence[MetricResult], weights: dict[str, float]) -> list[GroupScore]:
    """``calculateGroupScores``, in the order the groups first appear, each with its effective weight."""
    labels: dict[str, list[str]] = {}
    for result in results:
        for group in result.groups:
            labels.setdefault(group, []).append(result.label)
    unweighted = [group for group in labels if group not in weights]
    shared = (100 - sum(weights.values())) / len(unweighted) if unweighted else 0.0
    scores = []
    for group, group_labels in labels.items():
        counts = {label: group_labels.count(label) for label in dict.fromkeys(group_labels)}
        total = sum(counts.get(label, 0) for label in _COUNTED)
        score = 0.0 if total == 0 else (counts.get("Pass", 0) / total) * 100
        scores.append(GroupScore(group, score, total == 0, weights.get(group, shared), counts))
    return scores


def summary_score(groups: Iterable[GroupScore]) -> float:
    """``calculateSummaryScore``: sum of score x weight / 100 (a no-data group as 100), rounded to 0.01."""
    total = 0.0
    for group in groups:
        total += (100.0 if group.no_data else group.score) * (group.weight / 100)
    # Commons Math Precision.round: BigDecimal of Double.toString, ROUND_HALF_UP.
    return float(Decimal(repr(total)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def classify_score(score: float, pass_threshold: float, marginal_threshold: float) -> ScoreLabel:
    """``ThresholdScoreClassifier``."""
    if score >= pass_threshold:
        return "Pass"
    if score >= marginal_threshold:
        return "Marginal"
    return "Fail"


def score(results: Sequence[MetricResult], config: JudgeConfig) -> Judgement:
    """``ScoringHelper.score``: the judgement of these metric results."""
    scored = [result for result in results if not result.muted]
    groups = group_scores(scored, config.group_weights)
    failures = [result for result in scored if result.critical and result.label != "Pass"]
    nodata = sum(1 for result in scored if result.label == "Nodata")
    reason: str | None = None
    if failures:
        value, reason = 0.0, f"Canary Failed: {failures[0].reason}"
    elif scored and nodata / len(scored) * 100 >= NODATA_THRESHOLD:
        value, reason = 0.0, f"Canary Failed: {NODATA_THRESHOLD}% or more metrics returned NODATA"
    else:
        value = summary_score(groups)
    return Judgement(metrics=tuple(results), groups=tuple(groups), score=value,
                     classification=classify_score(value, config.pass_, config.marginal), reason=reason,
                     pass_threshold=config.pass_, marginal_threshold=config.marginal)


def interval_ok(score_value: float, marginal_threshold: float) -> bool:
    """``MonitorCanaryTask``: a judgement lets the canary go on only when its score is above marginal."""
    return score_value > marginal_threshold


def run_verdict(scores: Sequence[float], pass_threshold: float, marginal_threshold: float) -> RunVerdict:
    """The verdict of a canary judged several times: every score must be above ``marginal``
    (the run stops at the first that is not) and the last must reach ``pass``."""
    if not scores:
        return RunVerdict(False, "There were no successful canary judgements to aggregate", (), None)
    for index, value in enumerate(scores[:-1]):
        if not interval_ok(value, marginal_threshold):
            return RunVerdict(False, f"Canary score {value:g} of judgement {index + 1} is not above the marginal"
                                     f" score threshold {marginal_threshold:g}.", tuple(scores[: index + 1]), index)
    final, last = scores[-1], len(scores) - 1
    if final <= marginal_threshold:
        return RunVerdict(False, f"Final canary score {final:g} is not above the marginal score threshold"
                                 f" {marginal_threshold:g}.", tuple(scores), last)
    if final < pass_threshold:
        return RunVerdict(False, f"Final canary score {final:g} is below the pass score threshold"
                                 f" {pass_threshold:g}.", tuple(scores), last)
    return RunVerdict(True, f"Final canary score {final:g} met or exceeded the pass score threshold"
                            f" {pass_threshold:g}.", tuple(scores), None)
