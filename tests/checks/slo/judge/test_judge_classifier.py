"""Kayenta's ClassifierSuite (kayenta-judge/src/test/scala/.../ClassifierSuite.scala): every
Mann-Whitney classifier test, with the classifier's settings of that test, and 100% label agreement.
(Its three "Mean Inequality Classifier" tests are of a classifier NetflixACAJudge does not use.)

Then NetflixACAJudge's own defaults and preprocessing (tolerance 0.25, confidence 0.98, NaN strategy,
IQR outlier removal) on samples whose answer follows from the source."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pytest

from releasegate.checks.slo.judge import JudgeConfig, MetricConfig, classify, preprocess

if TYPE_CHECKING:
    from conftest import Vectors

# (test name, MannWhitneyClassifier settings, classify() arguments, expected label, expected critical)
# settings: tol/conf (tolerance, confLevel), eff (effectSizeThresholds), crit (criticalThresholds), measure
CASES: list[tuple[str, dict[str, Any], dict[str, Any], str, bool | None]] = [
    ("Mann-Whitney Classifier Test: Pass Metric", {}, {"direction": "either"}, "Pass", None),
    ("Mann-Whitney Classifier Test: High Metric", {}, {"direction": "either"}, "High", None),
    ("Mann-Whitney Classifier Test: Low Metric", {}, {"direction": "either"}, "Low", None),
    ("Mann-Whitney Classifier Directional Test: Increase", {}, {"direction": "increase"}, "Pass", None),
    ("Mann-Whitney Classifier Directional Test: Decrease", {}, {"direction": "decrease"}, "Pass", None),
    ("Mann-Whitney Classifier Directional Test: High Metric", {}, {"direction": "increase"}, "High", False),
    ("Mann-Whitney Classifier Directional Test: Low Metric", {}, {"direction": "decrease"}, "Low", None),
    ("Mann-Whitney Classifier Test: High Metric (Large Input)", {}, {"direction": "either"}, "High", False),
    ("Mann-Whitney Classifier Test - Mean Ratio Effect Size: High", {"eff": (0.8, 1.2)},
     {"direction": "either"}, "High", None),
    ("Mann-Whitney Classifier Test - Mean Ratio Effect Size: Low", {"eff": (0.8, 1.2)},
     {"direction": "decrease"}, "Low", None),
    ("Mann-Whitney Classifier Test - Mean Ratio Effect Size: Pass", {"eff": (0.5, 1.0)},
     {"direction": "either", "nan_strategy": "remove"}, "Pass", None),
    ("Mann-Whitney Classifier Test - Mean Ratio Effect Size: Pass (Large Input)", {"eff": (1.0, 5.0)},
     {"direction": "either"}, "Pass", None),
    ("Mann-Whitney Classifier Test - CLES Effect Size: Pass",
     {"tol": 0.20, "conf": 0.98, "eff": (0.5, 0.8), "measure": "cles"}, {"direction": "either"}, "Pass", None),
    ("Mann-Whitney Classifier Test - CLES Effect Size: High",
     {"tol": 0.20, "conf": 0.98, "eff": (0.2, 0.8), "measure": "cles"}, {"direction": "either"}, "High", None),
    ("Mann-Whitney Classifier Test - CLES Effect Size: Low",
     {"tol": 0.20, "conf": 0.98, "eff": (0.2, 0.8), "measure": "cles"}, {"direction": "either"}, "Low", None),
    ("Mann-Whitney Classifier Test - Critical Effect Size: Critical High", {"crit": (1.0, 1.2)},
     {"direction": "either", "critical": True}, "High", True),
    ("Mann-Whitney Classifier Test - Critical Effect Size: Critical Low", {"crit": (1.2, 1.0)},
     {"direction": "either", "critical": True}, "Low", True),
    ("Mann-Whitney Classifier Test - Critical Effect Size: High", {"eff": (1.0, 5.0), "crit": (1.0, 13.0)},
     {"direction": "either", "critical": True}, "High", False),
    ("Mann-Whitney Classifier Test - Critical Effect Size: Pass", {"eff": (1.0, 13.0), "crit": (1.0, 15.0)},
     {"direction": "either", "critical": True}, "Pass", False),
    ("Mann-Whitney Classifier Test - Critical Effect Size: Critical High (Default Thresholds)", {},
     {"direction": "either", "critical": True}, "High", True),
    ("Mann-Whitney Tied Observations", {}, {"direction": "decrease"}, "Pass", None),
    ("Mann-Whitney Identical Populations", {}, {"direction": "decrease"}, "Pass", None),
    ("Mann-Whitney Leading Zero Identical Population", {}, {"direction": "decrease"}, "Pass", None),
    ("Mann-Whitney Missing Experiment Data", {}, {"direction": "decrease"}, "Nodata", None),
    ("Mann-Whitney Missing Experiment Data: Critical Metric", {}, {"direction": "decrease", "critical": True},
     "Nodata", True),
    ("Mann-Whitney Missing Experiment Data with NaN Replacement", {},
     {"direction": "decrease", "nan_strategy": "replace"}, "Pass", None),
    ("Mann-Whitney Majority Tied Observations", {}, {"direction": "either"}, "Pass", None),
    ("Mann-Whitney Tied Ranks", {}, {"direction": "either"}, "High", None),
    ("Mann-Whitney Tied Ranks With Zeros", {}, {"direction": "either"}, "High", None),
    ("Mann-Whitney Zero Mean: High Metric with Effect Size", {"eff": (0.8, 1.2)}, {"direction": "either"},
     "High", None),
    ("Mann-Whitney Zero Mean: Low Metric with Effect Size", {"eff": (0.8, 1.2)}, {"direction": "either"},
     "Low", None),
    ("Mann-Whitney Zero Mean: Critical Metric", {"crit": (0.8, 1.2)},
     {"direction": "either", "nan_strategy": "replace", "critical": True}, "High", True),
    ("Mann-Whitney Zero Mean: Pass Metric", {"eff": (0.8, 1.2)}, {"direction": "either"}, "Pass", None),
]


def kayenta_classifier(name: str, settings: dict[str, Any], arguments: dict[str, Any]) -> tuple[MetricConfig,
                                                                                                   JudgeConfig]:
    """The metric and judge settings of ``new MannWhitneyClassifier(...)`` and ``classify(...)``.

    The ClassifierSuite builds its classifiers with tolerance 0.10 and confidence 0.95 unless it
    says otherwise, and the constructor's threshold defaults are (1.0, 1.0) for every measure."""
    eff = settings.get("eff", (1.0, 1.0))
    crit = settings.get("crit", (1.0, 1.0))
    metric = MetricConfig(
        name=name, direction=arguments["direction"], critical=arguments.get("critical", False),
        nan_strategy=arguments.get("nan_strategy", "remove"),
        effect_size={"measure": settings.get("measure", "meanRatio"), "allowed_decrease": eff[0],
                     "allowed_increase": eff[1], "critical_decrease": crit[0], "critical_increase": crit[1]},
    )
    return metric, JudgeConfig(tolerance=settings.get("tol", 0.10), confidence=settings.get("conf", 0.95))


@pytest.mark.parametrize(("test", "settings", "arguments", "label", "critical"), CASES, ids=[c[0] for c in CASES])
def test_kayenta_classifier_suite(kayenta: Vectors, test: str, settings: dict[str, Any], arguments: dict[str, Any],
                                  label: str, critical: bool | None) -> None:
    data = kayenta("ClassifierSuite", test)
    metric, config = kayenta_classifier("metric", settings, arguments)
    result = classify(metric, data["controlData"], data["experimentData"], config)
    assert result.label == label, result.reason
    if critical is not None:
        assert result.critical is critical


def test_zero_mean_deviations(kayenta: Vectors) -> None:
    """ClassifierSuite "Zero Mean" tests: the mean ratio is NaN with a zero mean, 1.0 when nothing was tested."""
    for test in ("Mann-Whitney Zero Mean: High Metric with Effect Size",
                 "Mann-Whitney Zero Mean: Low Metric with Effect Size"):
        data = kayenta("ClassifierSuite", test)
        metric, config = kayenta_classifier("m", {"eff": (0.8, 1.2)}, {"direction": "either"})
        assert math.isnan(classify(metric, data["controlData"], data["experimentData"], config).deviation)
    data = kayenta("ClassifierSuite", "Mann-Whitney Zero Mean: Pass Metric")
    metric, config = kayenta_classifier("m", {"eff": (0.8, 1.2)}, {"direction": "either"})
    assert classify(metric, data["controlData"], data["experimentData"], config).deviation == 1.0


def test_missing_data_reason(kayenta: Vectors) -> None:
    """ClassifierSuite: "Mann-Whitney Missing Data: Reason String"."""
    data = kayenta("ClassifierSuite", "Mann-Whitney Missing Data: Reason String")
    metric, config = kayenta_classifier("test-critical-metric", {}, {"direction": "decrease", "critical": True})
    result = classify(metric, data["controlData"], data["experimentData"], config)
    assert result.reason == "Missing data for test-critical-metric"


def test_tied_ranks_get_noise_and_a_real_interval(kayenta: Vectors) -> None:
    """Two constant samples are noised (sd = value x 1e-5) so the test can run; the result is reproducible."""
    data = kayenta("ClassifierSuite", "Mann-Whitney Tied Ranks")
    metric, config = kayenta_classifier("m", {}, {"direction": "either"})
    first = classify(metric, data["controlData"], data["experimentData"], config)
    again = classify(metric, data["controlData"], data["experimentData"], config)
    assert first.noise_added and first == again
    assert first.estimate == pytest.approx(9.0, rel=1e-3)
    assert first.lower is not None and first.lower > 8.9


def test_must_have_data_makes_missing_data_fail_the_metric() -> None:
    metric = MetricConfig(name="errors", must_have_data=True)
    result = classify(metric, [1.0, 2.0], [])
    assert (result.label, result.critical) == ("NodataFailMetric", False)
    critical = classify(metric.model_copy(update={"critical": True}), [1.0, 2.0], [])
    assert (critical.label, critical.critical) == ("Nodata", True)


# NetflixACAJudge: tolerance 0.25 and confidence 0.98, NaN removed, outliers kept, unless configured.
SHIFT_CONTROL = [10.0, 10.5, 9.5, 10.2, 9.8, 10.1, 9.9, 10.3, 9.7, 10.0]


def test_judge_defaults_are_kayentas() -> None:
    config = JudgeConfig()
    metric = MetricConfig(name="m")
    assert (config.tolerance, config.confidence, config.pass_, config.marginal) == (0.25, 0.98, 95.0, 75.0)
    assert (metric.direction, metric.nan_strategy, metric.outliers.strategy, metric.outliers.factor) == (
        "either", "remove", "keep", 3.0)
    assert metric.effect_size.allowed == (1.0, 1.0) and metric.effect_size.critical == (1.0, 1.0)
    cles = MetricConfig(name="m", effect_size={"measure": "cles"})
    assert cles.effect_size.allowed == (0.5, 0.5) and cles.effect_size.critical == (0.5, 0.5)


def test_high_shift_with_evidence() -> None:
    experiment = [value + 2.0 for value in SHIFT_CONTROL]
    result = classify(MetricConfig(name="latency"), SHIFT_CONTROL, experiment)
    assert result.label == "High" and result.reason == "latency was classified as High"
    assert result.estimate == pytest.approx(2.0, abs=0.05)
    assert result.lower is not None and result.upper is not None and result.lower < 2.0 < result.upper
    assert result.tolerance_band == pytest.approx((-0.25 * abs(result.estimate), 0.25 * abs(result.estimate)))
    assert result.effect_size == pytest.approx(12.0 / 10.0, rel=1e-3)
    assert result.experiment.count == 10 and result.control.stats.mean == pytest.approx(10.0)


def test_direction_decrease_ignores_an_increase() -> None:
    experiment = [value + 2.0 for value in SHIFT_CONTROL]
    assert classify(MetricConfig(name="m", direction="decrease"), SHIFT_CONTROL, experiment).label == "Pass"
    assert classify(MetricConfig(name="m", direction="increase"), experiment, SHIFT_CONTROL).label == "Pass"
    assert classify(MetricConfig(name="m", direction="decrease"), experiment, SHIFT_CONTROL).label == "Low"


def test_nan_strategies() -> None:
    nan = float("nan")
    removed, sample = preprocess([1.0, nan, 2.0, nan], MetricConfig(name="m"))
    assert removed.tolist() == [1.0, 2.0] and (sample.received, sample.nan, sample.count) == (4, 2, 2)
    replaced, sample = preprocess([1.0, nan, 2.0], MetricConfig(name="m", nan_strategy="replace"))
    assert replaced.tolist() == [1.0, 0.0, 2.0] and (sample.nan, sample.count) == (1, 3)
    assert classify(MetricConfig(name="m"), [nan, nan], [1.0]).label == "Nodata"


def test_outlier_removal_with_factor_three() -> None:
    """The IQR fences at factor 3 (or the 1st/99th percentile, whichever is wider) drop one spike."""
    values = [*SHIFT_CONTROL, 500.0]
    kept, sample = preprocess(values, MetricConfig(name="m", outliers={"strategy": "remove"}))
    assert 500.0 not in kept.tolist() and sample.outliers == 1 and sample.count == 10
    untouched, sample = preprocess(values, MetricConfig(name="m"))
    assert len(untouched) == 11 and sample.outliers == 0


def test_an_infinite_value_is_an_error_not_a_pass() -> None:
    result = classify(MetricConfig(name="m"), [1.0, 2.0, 3.0], [1.0, float("inf"), 2.0])
    assert result.label == "Error" and result.critical is False
    assert result.reason == "Metric Classification Failed: the samples hold an infinite value"


def test_identical_data_passes_with_kayentas_reason() -> None:
    result = classify(MetricConfig(name="m"), [3.0, 1.0, 2.0], [1.0, 2.0, 3.0])
    assert result.label == "Pass" and result.reason == "The Canary and Baseline data are identical"
    assert result.estimate is None and result.deviation == 1.0
