"""Kayenta's Mann-Whitney U test with the Hodges-Lehmann estimate and its confidence interval.

A port of ``kayenta-mannwhitney`` ``MannWhitney.scala``, which reproduces R's
``wilcox.test(x, y, conf.int = TRUE, exact = FALSE, correct = TRUE)``: the normal approximation
of the rank-sum statistic with the tie correction of its variance and the continuity correction;
the estimate of the shift x - y is the root of that standardized statistic, the interval's ends
the roots at the two normal quantiles.

The roots are found with ``_zeroin``, Brent's method exactly as R's ``uniroot`` (``R_zeroin2``)
and Kayenta's ``BrentSolver`` run it, tolerance 1e-4. The function is a step function of the
shift, so any point of the last bracket is "a root": another Brent variant (scipy's ``brentq``)
stops at another point of it, up to 3e-5 away on two of Kayenta's own test vectors, and the
estimate and interval would no longer agree with R's and Kayenta's to the 1e-6 their tests ask.
Ranks and the normal quantile come from scipy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

from releasegate.checks.slo.judge.stats import Values, ranks

_EPSILON = 2.220446049250313e-16
TOLERANCE = 1e-4
"""uniroot's ``tol`` in ``wilcox.test``, and Kayenta's ``BrentSolver.TOLERANCE``."""
MAX_ITERATIONS = 1000


class AllTied(ArithmeticError):
    """Every observation has the same value once shifted: the statistic has no variance."""


@dataclass(frozen=True)
class MannWhitneyResult:
    """The confidence interval of the shift x - y and its Hodges-Lehmann estimate."""

    lower: float
    upper: float
    estimate: float


def wilcoxon_diff(mu: float, quantile: float, x: Values, y: Values) -> float:
    """``MannWhitney.wilcoxonDiff`` (R's ``wdiff``): the standardized rank-sum statistic of
    x - mu against y, continuity-corrected, minus ``quantile``."""
    x_len, y_len = float(len(x)), float(len(y))
    dr = ranks(np.concatenate([x - mu, y]))
    _, ties = np.unique(dr, return_counts=True)
    tie_sum = float(np.sum(ties.astype(np.float64) ** 3 - ties))
    dz = float(np.sum(dr[: len(x)])) - x_len * (x_len + 1) / 2 - x_len * y_len / 2
    correction = (0.0 if math.isnan(dz) else float(np.sign(dz))) * 0.5
    sigma = math.sqrt((x_len * y_len / 12) * ((x_len + y_len + 1) - tie_sum / ((x_len + y_len) * (x_len + y_len - 1))))
    if sigma == 0:
        raise AllTied("cannot compute confidence interval when all observations are tied")
    return (dz - correction) / sigma - quantile


def mann_whitney(x: Values, y: Values, confidence: float = 0.95) -> MannWhitneyResult:
    """``MannWhitney.mannWhitneyUTest(x, y, confidenceLevel)`` with mu = 0 (two-sided)."""
    alpha = 1.0 - confidence
    mu_min = float(x.min() - y.max())
    mu_max = float(x.max() - y.min())

    def root(zq: float) -> float:
        f_lower = wilcoxon_diff(mu_min, zq, x, y)
        f_upper = wilcoxon_diff(mu_max, zq, x, y)
        if f_lower <= 0:
            return mu_min
        if f_upper >= 0:
            return mu_max
        return _zeroin(mu_min, mu_max, f_lower, f_upper, lambda mu: wilcoxon_diff(mu, zq, x, y))

    z_quant = float(scipy_stats.norm.ppf(alpha / 2))
    lower, upper = root(-z_quant), root(z_quant)
    # As Kayenta (and unlike R) the estimate's bracket is not checked for a sign change.
    estimate = _zeroin(mu_min, mu_max, wilcoxon_diff(mu_min, 0, x, y), wilcoxon_diff(mu_max, 0, x, y),
                       lambda mu: wilcoxon_diff(mu, 0, x, y))
    return MannWhitneyResult(lower, upper, estimate)


def _zeroin(ax: float, bx: float, fa: float, fb: float, f: Callable[[float], float]) -> float:
    """R's ``R_zeroin2`` (Brent 1973), as Kayenta's ``BrentSolver.solve`` ports it line by line."""
    a, b = ax, bx
    c, fc = a, fa
    if fa == 0:
        return a
    if fb == 0:
        return b
    for _ in range(MAX_ITERATIONS + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * _EPSILON * abs(b) + TOLERANCE / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:  # linear interpolation
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:  # inverse quadratic interpolation
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b
