"""Kayenta's MannWhitneySuite (kayenta-mannwhitney/src/test/scala/.../MannWhitneySuite.scala) and
the R ``wilcox.test(conf.int = TRUE)`` results it quotes, with its tolerances: 1e-6, and 1e-4 for
the estimates of the two "Tie out with R Version" tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from scipy import stats

from releasegate.checks.slo.judge.mannwhitney import AllTied, mann_whitney, wilcoxon_diff

if TYPE_CHECKING:
    from conftest import Vectors

E = 0.000001


def test_wilcoxon_diff_function(kayenta: Vectors) -> None:
    """MannWhitneySuite: "Wilcoxon Diff Function"."""
    data = kayenta("MannWhitneySuite", "Wilcoxon Diff Function")
    assert wilcoxon_diff(0, 0, data["x"], data["y"]) == pytest.approx(-1.229416, abs=E)
    assert wilcoxon_diff(5, 0, data["x"], data["y"]) == pytest.approx(-35.80606, abs=E)


def test_z_quant() -> None:
    """MannWhitneySuite: "Test zQuant" (the normal quantile the 0.98 interval uses)."""
    assert stats.norm.ppf(0.02 / 2) == pytest.approx(-2.326348, abs=E)


# (Kayenta test name, experiment array, control array, confidence, (lower, upper, estimate), estimate tolerance)
CASES = [
    ("Mann-Whitney Confidence Interval & Estimate", "experimentData", "controlData", 0.95,
     (6.0, 39.0, 22.5), E),
    ("Mann-Whitney Confidence Interval & Estimate: Problem Case", "experiment", "control", 0.98,
     (-1.4808028936386108E-5, 1.808255910873413E-5, 1.808255910873413E-5), E),
    # R's wilcox.test values, as the suite quotes them (rCiLow, rCiHigh, rEst)
    ("Mann-Whitney Confidence Interval & Estimate: Tie out with R Version", "experiment", "control", 0.95,
     (-0.500002521696696, -3.486287505871302E-5, -0.4999393907180323), 0.0001),
    ("Mann-Whitney Confidence Interval & Estimate: Tie out with R Version (Large)", "experiment", "control", 0.98,
     (-0.4999173250549087, -6.912685789769486E-6, -3.45044082729315E-5), 0.0001),
]


@pytest.mark.parametrize(("test", "x", "y", "confidence", "expected", "estimate_tolerance"), CASES,
                         ids=[case[0] for case in CASES])
def test_confidence_interval_and_estimate(kayenta: Vectors, test: str, x: str, y: str, confidence: float,
                                          expected: tuple[float, float, float], estimate_tolerance: float) -> None:
    data = kayenta("MannWhitneySuite", test)
    result = mann_whitney(data[x], data[y], confidence)
    assert result.lower == pytest.approx(expected[0], abs=E)
    assert result.upper == pytest.approx(expected[1], abs=E)
    assert result.estimate == pytest.approx(expected[2], abs=estimate_tolerance)


def test_intermediate_values(kayenta: Vectors) -> None:
    """MannWhitneySuite: "Mann-Whitney Intermediate Values / Variables" (R's values of every step)."""
    data = kayenta("MannWhitneySuite", "Mann-Whitney Intermediate Values / Variables")
    x, y = data["x"], data["y"]
    mu_min, mu_max = x.min() - y.max(), x.max() - y.min()
    zq_lower = stats.norm.ppf(0.05 / 2) * -1
    zq_upper = stats.norm.ppf(0.05 / 2)
    assert mu_min == pytest.approx(-3.124999999999986, abs=E)
    assert mu_max == pytest.approx(5.555555555555557, abs=E)
    assert zq_lower == pytest.approx(1.9599639845400536, abs=E)
    assert zq_upper == pytest.approx(-1.9599639845400536, abs=E)
    assert wilcoxon_diff(mu_min, zq_lower, x, y) == pytest.approx(17.090968923762254, abs=E)
    assert wilcoxon_diff(mu_max, zq_lower, x, y) == pytest.approx(-20.997687930433106, abs=E)
    assert wilcoxon_diff(mu_min, zq_upper, x, y) == pytest.approx(21.01089689284236, abs=E)
    assert wilcoxon_diff(mu_max, zq_upper, x, y) == pytest.approx(-17.077759961353, abs=E)
    result = mann_whitney(x, y, 0.95)
    assert result.lower == pytest.approx(3.521755377702165E-5, abs=E)
    assert result.upper == pytest.approx(2.02456461662334E-5, abs=E)
    assert result.estimate == pytest.approx(2.6279243045155653E-5, abs=E)


def test_all_tied_observations_have_no_interval() -> None:
    """Kayenta's wilcoxonDiff throws when every observation is tied (the judge labels it Error)."""
    with pytest.raises(AllTied):
        wilcoxon_diff(0.0, 0.0, np.array([2.0, 2.0]), np.array([2.0, 2.0, 2.0]))
