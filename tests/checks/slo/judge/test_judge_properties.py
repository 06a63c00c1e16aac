"""Properties over generated samples: the same data passes, a shift of three standard deviations
is High (Low downwards), no data is Nodata, a score stays within 0..100."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from releasegate.checks.slo.judge import JudgeConfig, MetricConfig, classify, judge

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(finite, min_size=1, max_size=60)


@given(samples, st.randoms(use_true_random=False))
def test_the_same_values_in_any_order_pass(values: list[float], random: object) -> None:
    shuffled = list(values)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    assert classify(MetricConfig(name="m"), values, shuffled).label == "Pass"


@st.composite
def shifted(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, float]:
    mean = draw(st.floats(min_value=1.0, max_value=1e4))
    sd = draw(st.floats(min_value=mean / 1000, max_value=mean / 10))
    rng = np.random.default_rng(draw(st.integers(min_value=0, max_value=2**32 - 1)))
    control = rng.normal(mean, sd, draw(st.integers(min_value=10, max_value=80)))
    experiment = rng.normal(mean, sd, draw(st.integers(min_value=10, max_value=80)))
    return control, experiment, sd


@settings(max_examples=60, deadline=None)
@given(shifted())
def test_a_shift_of_three_standard_deviations_is_high_or_low(data: tuple[np.ndarray, np.ndarray, float]) -> None:
    control, experiment, sd = data
    up, down = experiment + 3 * sd, experiment - 3 * sd
    assert classify(MetricConfig(name="m"), control, up).label == "High"
    assert classify(MetricConfig(name="m", direction="increase"), control, up).label == "High"
    assert classify(MetricConfig(name="m", direction="decrease"), control, up).label == "Pass"
    assert classify(MetricConfig(name="m"), control, down).label == "Low"
    assert classify(MetricConfig(name="m", direction="decrease"), control, down).label == "Low"
    assert classify(MetricConfig(name="m", direction="increase"), control, down).label == "Pass"


def test_samples_of_one_distribution_rarely_differ() -> None:
    """At 98% confidence and a tolerance band, two samples of one distribution are High or Low in
    well under 5% of draws (fixed seeds, so the test is deterministic)."""
    flagged = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        result = classify(MetricConfig(name="m"), rng.normal(100, 5, 40), rng.normal(100, 5, 40))
        flagged += result.label != "Pass"
    assert flagged <= 5


@given(st.lists(st.one_of(finite, st.just(math.nan)), max_size=30),
       st.lists(st.just(math.nan), max_size=10), st.booleans())
def test_no_data_is_nodata(control: list[float], experiment: list[float], swap: bool) -> None:
    if swap:
        control, experiment = experiment, control
    if all(math.isnan(v) for v in control) or all(math.isnan(v) for v in experiment):
        result = classify(MetricConfig(name="m"), control, experiment)
        assert result.label == "Nodata" and result.reason == "Missing data for m"
        required = classify(MetricConfig(name="m", must_have_data=True), control, experiment)
        assert required.label == "NodataFailMetric"


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.text(alphabet="abcdef", min_size=1, max_size=4), st.tuples(samples, samples),
                       min_size=1, max_size=5))
def test_the_score_is_between_0_and_100(series: dict[str, tuple[list[float], list[float]]]) -> None:
    control = {name: pair[0] for name, pair in series.items()}
    experiment = {name: pair[1] for name, pair in series.items()}
    judgement = judge(JudgeConfig(), control, experiment)
    assert 0.0 <= judgement.score <= 100.0
    assert judgement.classification == ("Pass" if judgement.score >= 95 else
                                        "Marginal" if judgement.score >= 75 else "Fail")
    assert {m.name for m in judgement.metrics} == set(series)
