"""Kayenta's ScorerSuite (kayenta-judge/src/test/scala/.../ScorerSuite.scala), ThresholdScoreClassifier,
and the aggregation of several judgements of Kayenta's standalone canary analysis
(kayenta-standalone-canary-analysis: GenerateCanaryAnalysisResultTaskTest, MonitorCanaryTask)."""

from __future__ import annotations

import pytest

from releasegate.checks.slo.judge import JudgeConfig, MetricResult, classify_score, run_verdict, score
from releasegate.checks.slo.judge.results import Sample
from releasegate.checks.slo.judge.stats import SampleStats

EMPTY = Sample(0, 0, 0, SampleStats(0, 0.0, 0.0, 0.0, 0.0))


def result(label: str, group: str, critical: bool = False, muted: bool = False) -> MetricResult:
    return MetricResult(name=f"{label}-{group}", label=label, reason=f"{label} reason", critical=critical,  # type: ignore[arg-type]
                        muted=muted, groups=(group,), direction="either", control=EMPTY, experiment=EMPTY)


# (ScorerSuite test name, group weights, metric results (label, group, critical), expected summary score)
SCORER_CASES = [
    ("Weighted Sum Group Scorer: Single Metric Pass", {}, [("Pass", "test-group", False)], 100.0),
    ("Weighted Sum Group Scorer: Single Metric Fail", {}, [("High", "test-group", False)], 0.0),
    ("Weighted Sum Group Scorer: Single group Nodata", {}, [("Nodata", "test-group-nodata", False)], 0.0),
    ("Weighted Sum Group Scorer: Two Groups, one Pass, one Nodata", {},
     [("Pass", "test-group-pass", False), ("Pass", "test-group-pass", False),
      ("Nodata", "test-group-nodata", False)], 100.0),
    ("Weighted Sum Group Scorer: One Group, Two Metrics", {},
     [("Pass", "test-group", False), ("High", "test-group", False)], 50.0),
    ("Weighted Sum Group Scorer: One Group, Three Metrics", {},
     [("Pass", "test-group", False), ("High", "test-group", False), ("Low", "test-group", False)], 33.33),
    ("Weighted Sum Group Scorer: Two Groups, Three Metrics", {"group-1": 75.0, "group-2": 25.0},
     [("Pass", "group-1", False), ("Pass", "group-1", False), ("High", "group-2", False)], 75.0),
    ("Weighted Sum Group Scorer: Two Groups, Three Metrics (Equal Weight)", {"group-1": 50.0, "group-2": 50.0},
     [("Pass", "group-1", False), ("High", "group-1", False), ("High", "group-2", False)], 25.0),
    ("Weighted Sum Group Scorer: Two Groups, Three Metrics (Equal Weight), one NoData",
     {"group-1": 50.0, "group-2": 50.0},
     [("Pass", "group-1", False), ("Nodata", "group-1", False), ("High", "group-2", False)], 50.0),
    ("Weighted Sum Group Scorer: Two Metrics, one good (normal), one fail (critical)", {},
     [("Pass", "test-group", False), ("High", "test-group", True)], 0.0),
    ("Weighted Sum Group Scorer: Two Metrics, one low (normal), one good (critical)", {},
     [("Low", "test-group", False), ("Pass", "test-group", True)], 50.0),
    ("Weighted Sum Group Scorer: Two Metrics, one good (normal), one nodata (critical)", {},
     [("Pass", "test-group", False), ("Nodata", "test-group", True)], 0.0),
    ("Weighted Sum Group Scorer: Two Groups (Unequal Weight), Four Metrics", {"group1": 15.0, "group2": 85.0},
     [("High", "group1", False), ("Low", "group1", False), ("Pass", "group1", False),
      ("High", "group2", False)], 5.0),
]


@pytest.mark.parametrize(("test", "weights", "metrics", "expected"), SCORER_CASES, ids=[c[0] for c in SCORER_CASES])
def test_kayenta_scorer_suite(test: str, weights: dict[str, float], metrics: list[tuple[str, str, bool]],
                              expected: float) -> None:
    judgement = score([result(*metric) for metric in metrics], JudgeConfig(group_weights=weights))
    assert judgement.score == pytest.approx(expected, abs=0.01)


def test_group_scores_of_the_nodata_cases() -> None:
    """ScorerSuite "Single group Nodata" and "Two Groups, one Pass, one Nodata": the group scores."""
    single = score([result("Nodata", "g")], JudgeConfig())
    assert [(g.name, g.score, g.no_data) for g in single.groups] == [("g", 0.0, True)]
    two = score([result("Pass", "p"), result("Pass", "p"), result("Nodata", "n")], JudgeConfig())
    assert sorted(g.score for g in two.groups) == [0.0, 100.0]


def test_muted_metrics_do_not_count() -> None:
    judgement = score([result("Pass", "g"), result("High", "g", muted=True)], JudgeConfig())
    assert judgement.score == 100.0 and len(judgement.metrics) == 2


def test_too_many_nodata_and_critical_reasons() -> None:
    nodata = score([result("Nodata", "a"), result("Pass", "b")], JudgeConfig())
    assert nodata.score == 0.0 and nodata.reason == "Canary Failed: 50% or more metrics returned NODATA"
    critical = score([result("High", "a", critical=True), result("Pass", "b")], JudgeConfig())
    assert critical.reason == "Canary Failed: High reason" and critical.classification == "Fail"


def test_error_counts_in_no_group_score() -> None:
    """As in Kayenta, an Error is neither counted nor Nodata: a group of Errors counts as 100."""
    judgement = score([result("Error", "a"), result("High", "b")], JudgeConfig())
    assert judgement.score == 50.0 and judgement.errors == ("Error-a",)


def test_score_rounds_half_up_to_two_decimals() -> None:
    judgement = score([result("Pass", "a"), result("Pass", "a"), result("High", "a")], JudgeConfig())
    assert judgement.score == 66.67


@pytest.mark.parametrize(("value", "label"), [(95.0, "Pass"), (94.99, "Marginal"), (75.0, "Marginal"),
                                              (74.99, "Fail"), (100.0, "Pass"), (0.0, "Fail")])
def test_threshold_score_classifier(value: float, label: str) -> None:
    assert classify_score(value, 95.0, 75.0) == label


# GenerateCanaryAnalysisResultTaskTest.dataProviderGetAggregatedJudgment: final score, marginal, pass, didPass
# (its two rows without thresholds have no equivalent: both thresholds always exist here)
@pytest.mark.parametrize(("final", "marginal", "pass_", "expected"), [(60.0, 75.0, 95.0, False),
                                                                     (85.0, 75.0, 95.0, False),
                                                                     (97.0, 75.0, 95.0, True)])
def test_aggregated_judgement(final: float, marginal: float, pass_: float, expected: bool) -> None:
    assert run_verdict([final], pass_, marginal).passed is expected


def test_several_judgements() -> None:
    """Every judgement above marginal (MonitorCanaryTask stops the run at the first that is not),
    the last at least pass."""
    assert run_verdict([80.0, 90.0, 96.0], 95.0, 75.0).passed
    stopped = run_verdict([80.0, 75.0, 100.0], 95.0, 75.0)
    assert (stopped.passed, stopped.failed_at, stopped.scores) == (False, 1, (80.0, 75.0))
    assert "not above the marginal" in stopped.message
    last = run_verdict([100.0, 90.0], 95.0, 75.0)
    assert (last.passed, last.failed_at) == (False, 1) and "below the pass" in last.message
    assert not run_verdict([], 95.0, 75.0).passed
