"""One metric judged: NetflixACAJudge's ``classifyMetric`` and its ``MannWhitneyClassifier``.

In order, as Kayenta:

1. preprocessing, each side on its own: NaN removed (or, with ``nan_strategy: replace``, set to 0),
   then, with ``outliers.strategy: remove``, the values outside ``IQRDetector``'s fences dropped;
2. no data on a side: Nodata (NodataFailMetric when the metric ``must_have_data`` and is not
   critical; a critical metric's Nodata is critical); with ``replace`` an empty side is a Pass;
3. the same values on both sides (in any order): Pass; one value shared by all: Pass;
4. when each side is constant, a little Gaussian noise (sd = value x 1e-5) so the ranks are not all
   tied; the Mann-Whitney test of experiment - control (confidence 0.98), the tolerance band
   ±tolerance x |estimate| (0.25): High when the interval lies above the band, the direction allows
   an increase and the effect size is >= the allowed increase (or cannot be computed); Low the
   mirror image; Pass otherwise;
5. a critical metric's High (Low) is critical when its effect size is also >= (<=) the critical limit;
6. anything that raises on the way is Error ("Metric Classification Failed"); so is an infinite
   sample (Kayenta has no rule for it and computes a meaningless interval).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from releasegate.checks.slo.judge import stats
from releasegate.checks.slo.judge.config import JudgeConfig, MetricConfig
from releasegate.checks.slo.judge.mannwhitney import mann_whitney
from releasegate.checks.slo.judge.results import MetricResult, Sample
from releasegate.checks.slo.judge.stats import Values

NOISE_SCALE = 1e-5
"""``MannWhitneyClassifier.addGaussianNoise``: the noise's standard deviation, times the value."""

EXPERIMENT_LABEL, CONTROL_LABEL = "Canary", "Baseline"


def preprocess(values: Sequence[float] | Values, metric: MetricConfig) -> tuple[Values, Sample]:
    """NetflixACAJudge's ``transformMetric`` on one side, and what it did."""
    raw = stats.array(values)
    nan = np.isnan(raw)
    cleaned = np.where(nan, 0.0, raw) if metric.nan_strategy == "replace" else raw[~nan]
    removed = 0
    if metric.outliers.strategy == "remove":
        outliers = stats.iqr_outliers(cleaned, metric.outliers.factor, reduce_sensitivity=True)
        removed = int(outliers.sum())
        cleaned = cleaned[~outliers]
    return cleaned, Sample(received=len(raw), nan=int(nan.sum()), outliers=removed, stats=stats.summary(cleaned))


def classify(metric: MetricConfig, control: Sequence[float] | Values, experiment: Sequence[float] | Values,
             config: JudgeConfig | None = None) -> MetricResult:
    """Preprocess both sides of ``metric`` and classify the experiment against the control."""
    config = config or JudgeConfig()
    control_values, control_sample = preprocess(control, metric)
    experiment_values, experiment_sample = preprocess(experiment, metric)
    base = MetricResult(name=metric.name, label="Pass", reason=None, critical=False, muted=metric.muted,
                        groups=metric.groups, direction=metric.direction, control=control_sample,
                        experiment=experiment_sample, effect_size_measure=metric.effect_size.measure)
    try:
        return _classify(metric, control_values, experiment_values, config, base)
    except (ArithmeticError, ValueError) as exc:
        return replace(base, label="Error", reason=f"Metric Classification Failed: {exc}")


def _classify(metric: MetricConfig, control: Values, experiment: Values, config: JudgeConfig,
              base: MetricResult) -> MetricResult:
    name = metric.name
    if len(experiment) == 0 or len(control) == 0:
        if metric.nan_strategy == "remove":
            reason = f"Missing data for {name}"
            if metric.must_have_data and not metric.critical:
                return replace(base, label="NodataFailMetric", reason=reason)
            return replace(base, label="Nodata", reason=reason, critical=metric.critical)
        return base
    if not (np.isfinite(experiment).all() and np.isfinite(control).all()):
        # Kayenta would rank an infinity (inf - inf is NaN) into a meaningless interval.
        raise ValueError("the samples hold an infinite value")
    if np.array_equal(np.sort(experiment), np.sort(control)):
        return replace(base, reason=f"The {EXPERIMENT_LABEL} and {CONTROL_LABEL} data are identical")
    if np.unique(np.concatenate([experiment, control])).size == 1:
        return base

    noise = np.unique(experiment).size == 1 and np.unique(control).size == 1
    if noise:
        rng = np.random.default_rng([config.noise_seed, zlib.crc32(name.encode())])
        experiment = _add_noise(experiment, rng)
        control = _add_noise(control, rng)
    test = mann_whitney(experiment, control, config.confidence)
    deviation = stats.mean_ratio(control, experiment)
    effect = stats.cles(control, experiment) if metric.effect_size.measure == "cles" else deviation
    band = config.tolerance * abs(test.estimate)
    tested = replace(base, deviation=deviation, estimate=test.estimate, lower=test.lower, upper=test.upper,
                     tolerance_band=(-band, band), effect_size=effect, noise_added=noise)
    allowed_decrease, allowed_increase = metric.effect_size.allowed
    critical_decrease, critical_increase = metric.effect_size.critical
    no_effect = math.isnan(effect)
    if (metric.direction in ("increase", "either") and test.lower > band
            and (no_effect or effect >= allowed_increase)):
        if metric.critical and (no_effect or effect >= critical_increase):
            return replace(tested, label="High", reason=f"The metric {name} was classified as High (Critical)",
                           critical=True)
        return replace(tested, label="High", reason=f"{name} was classified as High")
    if (metric.direction in ("decrease", "either") and test.upper < -band
            and (no_effect or effect <= allowed_decrease)):
        if metric.critical and (no_effect or effect <= critical_decrease):
            return replace(tested, label="Low", reason=f"The metric {name} was classified as Low (Critical)",
                           critical=True)
        return replace(tested, label="Low", reason=f"{name} was classified as Low")
    return tested


def _add_noise(values: Values, rng: np.random.Generator) -> Values:
    # Kayenta: nextGaussian() * sd + 0, with sd = the value x 1e-5 (negative or 0 for such values).
    sd = float(values[0]) * NOISE_SCALE
    return values + rng.standard_normal(len(values)) * sd
