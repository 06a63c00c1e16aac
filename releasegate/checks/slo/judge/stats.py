"""The statistics under Kayenta's judge, computed as Kayenta computes them.

Kayenta's ``kayenta-judge`` leans on Apache Commons Math; the functions here reproduce the pieces
it uses, in the same floating-point order where that can change a comparison:

- ``mean``/``variance``: Commons Math's corrected two-pass mean and bias-corrected variance
  (``StatUtils``), which ``DescriptiveStatistics.summary`` and ``EffectSizes.meanRatio`` use;
- ``percentile``: the R-7 estimate of Commons Math's ``Percentile`` (``IQRDetector`` uses it);
- ``iqr_outliers``: ``IQRDetector(factor, reduceSensitivity = true)``: fences at the wider of
  Q1 - f x IQR / the 1st percentile and Q3 + f x IQR / the 99th percentile;
- ``mean_ratio`` and ``cles``: ``EffectSizes`` (experiment over control; NaN when a mean is zero);
- ``summary``: ``DescriptiveStatistics.summary`` (min, max, mean, std, count; zeros when empty).

Ranks come from ``scipy.stats.rankdata`` (average ranks for ties, as Commons Math's
``NaturalRanking(TiesStrategy.AVERAGE)``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

Values = NDArray[np.float64]


def array(values: Sequence[float] | Values) -> Values:
    return np.asarray(values, dtype=np.float64)


def _plain_sum(values: Values) -> float:
    # Commons Math adds left to right; numpy sums pairwise and Python's sum() compensates.
    total = 0.0
    for value in values.tolist():
        total += value
    return total


def mean(values: Values) -> float:
    """``StatUtils.mean``: the mean, corrected by the mean of the residuals (NaN when empty)."""
    n = len(values)
    if n == 0:
        return math.nan
    xbar = _plain_sum(values) / n
    return xbar + _plain_sum(values - xbar) / n


def variance(values: Values) -> float:
    """``StatUtils.variance``: the bias-corrected sample variance (0 for one value, NaN when empty)."""
    n = len(values)
    if n == 0:
        return math.nan
    if n == 1:
        return 0.0
    m = mean(values)
    deviations = values - m
    accum = _plain_sum(deviations * deviations)
    accum2 = _plain_sum(deviations)
    return (accum - accum2 * accum2 / n) / (n - 1)


def percentile(values: Values, p: float) -> float:
    """Commons Math ``Percentile`` with ``EstimationType.R_7`` (``p`` in (0, 100]; NaN when empty)."""
    n = len(values)
    if n == 0:
        return math.nan
    work = np.sort(values)
    q = p / 100.0
    pos = 0.0 if q == 0.0 else float(n) if q == 1.0 else 1 + (n - 1) * q
    if pos < 1:
        return float(work[0])
    if pos >= n:
        return float(work[n - 1])
    fpos = math.floor(pos)
    lower, upper = float(work[fpos - 1]), float(work[fpos])
    return lower + (pos - fpos) * (upper - lower)


def iqr_outliers(values: Values, factor: float, *, reduce_sensitivity: bool = True) -> NDArray[np.bool_]:
    """``IQRDetector.detect``: which values lie outside the fences (strictly)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.bool_)
    p75, p25 = percentile(values, 75), percentile(values, 25)
    iqr = p75 - p25
    lower, upper = p25 - factor * iqr, p75 + factor * iqr
    if reduce_sensitivity:
        lower = min(percentile(values, 1), lower)
        upper = max(percentile(values, 99), upper)
    return np.asarray((values > upper) | (values < lower), dtype=np.bool_)


def ranks(values: Values) -> Values:
    return np.asarray(stats.rankdata(values, method="average"), dtype=np.float64)


def mean_ratio(control: Values, experiment: Values) -> float:
    """``EffectSizes.meanRatio``: mean(experiment) / mean(control); NaN when either mean is 0."""
    control_mean, experiment_mean = mean(control), mean(experiment)
    if control_mean == 0.0 or experiment_mean == 0.0:
        return math.nan
    return experiment_mean / control_mean


def cles(control: Values, experiment: Values) -> float:
    """``EffectSizes.cles``: the share of (experiment, control) pairs where experiment is higher
    (ties count half), from the rank sum (Vargha and Delaney 2000)."""
    m, n = len(experiment), len(control)
    r1 = _plain_sum(ranks(np.concatenate([experiment, control]))[:m])
    return (2 * r1 - m * (m + 1)) / (2 * n * m)


@dataclass(frozen=True)
class SampleStats:
    """``DescriptiveStatistics.summary`` of one sample after preprocessing (zeros when empty)."""

    count: int
    min: float
    max: float
    mean: float
    std: float

    def to_dict(self) -> dict[str, float | int]:
        return {"count": self.count, "min": self.min, "max": self.max, "mean": self.mean, "std": self.std}


def summary(values: Values) -> SampleStats:
    if len(values) == 0:
        return SampleStats(0, 0.0, 0.0, 0.0, 0.0)
    with np.errstate(invalid="ignore"):  # an infinite sample: its mean is inf or NaN, as in Java
        return SampleStats(len(values), float(values.min()), float(values.max()), mean(values),
                           math.sqrt(variance(values)))
