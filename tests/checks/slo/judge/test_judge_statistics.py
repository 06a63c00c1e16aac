"""Kayenta's StatisticSuite, DetectorSuite (IQR) and TransformSuite (NaN and IQR) tests
(kayenta-judge/src/test/scala/com/netflix/kayenta/judge/). Cohen's d, the KSigma detector and
Kayenta's RandomUtils are not part of NetflixACAJudge and are not reproduced."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pytest

from releasegate.checks.slo.judge import MetricConfig, preprocess, stats

if TYPE_CHECKING:
    from conftest import Vectors


def test_summary_statistics() -> None:
    """StatisticSuite: "Summary Statistics: Scalar", ": List", ": No Data"."""
    assert stats.summary(np.array([4.0])) == stats.SampleStats(1, 4.0, 4.0, 4.0, 0.0)
    result = stats.summary(np.array([1.0, 1.0, 1.0, 10.0, 10.0, 10.0]))
    assert (result.min, result.max, result.mean, result.count) == (1.0, 10.0, 5.5, 6)
    assert result.std == pytest.approx(4.9295, abs=1e-4)
    assert stats.summary(np.array([])) == stats.SampleStats(0, 0.0, 0.0, 0.0, 0.0)


def test_percentiles(kayenta: Vectors) -> None:
    """StatisticSuite: the percentile tests (Commons Math's R-7 estimate)."""
    data = kayenta("StatisticSuite", "Summary Statistics: Basic Percentile")["testData"]
    assert stats.percentile(data, 5) == pytest.approx(0.175, abs=1e-4)
    assert stats.percentile(data, 50) == 1.75
    assert stats.percentile(data, 100) == 3.5
    data = kayenta("StatisticSuite", "Summary Statistics: Basic Percentile Estimate (Linear Interpolation)")
    assert stats.percentile(data["testData"], 50) == 4.5
    data = kayenta("StatisticSuite", "Summary Statistics: Percentile (NIST Data)")
    assert stats.percentile(data["testData"], 90) == pytest.approx(95.19568, abs=1e-12)
    assert stats.percentile(np.array([1.0]), 100) == 1.0  # "Summary Statistics: Percentile Metric Object"
    data = kayenta("StatisticSuite", "Summary Statistics: Percentile Estimate (Linear Interpolation)")
    assert stats.percentile(data["testData"], 25) == 0.0
    assert stats.percentile(data["testData"], 75) == pytest.approx(0.0416, abs=1e-4)


@pytest.mark.parametrize(("test", "expected"), [
    ("Effect Size: Mean Ratio (No Effect)", 1.0),
    ("Effect Size: Mean Ratio (Summary Stats)", 1.0),
    ("Effect Size: Mean Ratio (High)", 10.0),
    ("Effect Size: Mean Ratio (Low)", 0.1),
    ("Effect Size: Mean Ratio (Zero Mean)", math.nan),
])
def test_mean_ratio(kayenta: Vectors, test: str, expected: float) -> None:
    data = kayenta("StatisticSuite", test)
    result = stats.mean_ratio(data["controlData"], data["experimentData"])
    assert math.isnan(result) if math.isnan(expected) else result == expected


@pytest.mark.parametrize(("test", "expected", "tolerance"), [
    ("CLES Effect Size: Identical", 0.5, 0.0),
    ("CLES Effect Size: Different (No Overlap)", 0.0, 0.0),
    ("CLES Effect Size: High Metric", 0.771, 0.001),
    ("CLES Effect Size: Low Metric", 0.12, 1e-12),
])
def test_cles(kayenta: Vectors, test: str, expected: float, tolerance: float) -> None:
    data = kayenta("StatisticSuite", test)
    assert stats.cles(data["controlData"], data["experimentData"]) == pytest.approx(expected, abs=tolerance)


@pytest.mark.parametrize(("test", "outlier_at"), [
    ("IQR Detection", [4]),
    ("IQR Detect Two Sided", [3, 7]),
    ("IQR Empty Data", []),
    ("IQR NIST Test", [89]),
])
def test_iqr_detector(kayenta: Vectors, test: str, outlier_at: list[int]) -> None:
    """DetectorSuite: the IQR tests (``new IQRDetector(factor = 1.5)``, no reduced sensitivity)."""
    data = kayenta("DetectorSuite", test)["testData"]
    found = stats.iqr_outliers(data, 1.5, reduce_sensitivity=False)
    assert np.flatnonzero(found).tolist() == outlier_at


def test_iqr_reduced_sensitivity_keeps_values_inside_the_1st_to_99th_percentile() -> None:
    """NetflixACAJudge's detector: fences no narrower than the 1st and 99th percentiles."""
    data = np.array([1.0] * 98 + [2.0, 2.0])  # IQR 0: the plain fences are at 1, the 99th percentile is 2
    assert np.flatnonzero(stats.iqr_outliers(data, 3.0, reduce_sensitivity=False)).tolist() == [98, 99]
    assert not stats.iqr_outliers(data, 3.0, reduce_sensitivity=True).any()


def test_transforms(kayenta: Vectors) -> None:
    """TransformSuite: "Remove Single NaN", "Remove Multiple NaN", "Replace NANs", "IQR Outlier Removal"."""
    for test, metric in (("Remove Single NaN", MetricConfig(name="m")),
                         ("Remove Multiple NaN", MetricConfig(name="m")),
                         ("Replace NANs", MetricConfig(name="m", nan_strategy="replace"))):
        data = kayenta("TransformSuite", test)
        assert preprocess(data["testData"], metric)[0].tolist() == data["truth"].tolist()
    data = kayenta("TransformSuite", "IQR Outlier Removal")
    kept = data["testData"][~stats.iqr_outliers(data["testData"], 1.5, reduce_sensitivity=False)]
    assert kept.tolist() == data["truth"].tolist()
