"""Measurement semantics with a scripted Prometheus and a fake clock (no sleeping)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from releasegate.checks.errors import ConfigError
from releasegate.checks.result import Outcome
from releasegate.checks.slo.analysis import Baseline, Condition, Metric, analyse, resolve
from releasegate.checks.slo.prometheus import ProviderError, QueryResult, Sample, Series
from releasegate.checks.slo.timing import Timing


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


class ScriptedPrometheus:
    """Answers each query with the next scripted value: a float, None (empty), or an exception."""

    def __init__(self, clock: FakeClock, answers: dict[str, list[float | Exception | None]]) -> None:
        self.clock = clock
        self.answers = answers
        self.asked: list[tuple[float, str]] = []

    def query(self, promql: str, at: float | None = None) -> QueryResult:
        self.asked.append((self.clock.now, promql))
        answer = self.answers[promql].pop(0)
        if isinstance(answer, Exception):
            raise answer
        series = [] if answer is None else [Series({}, [Sample(self.clock.now, answer)])]
        return QueryResult(promql, "vector", series)


def run(answers: dict[str, list[float | Exception | None]], *metrics: Metric):  # type: ignore[no-untyped-def]
    clock = FakeClock()
    client = ScriptedPrometheus(clock, answers)
    result = analyse(client, list(metrics), clock=clock, sleep=clock.sleep, wall=clock, query_timeout_s=2)
    return result, client, clock


def metric(**kwargs: object) -> Metric:
    """A metric "m" on query "q" with success < 0.01, measured every 10 s; Timing's fields go to its timing."""
    timing = {key: kwargs.pop(key) for key in list(kwargs) if key in Timing.__dataclass_fields__}
    fields: dict[str, object] = {"name": "m", "query": "q", "success": Condition("<", 0.01)}
    fields.update(kwargs)
    return Metric(**fields, timing=Timing(**{"interval_s": 10, **timing}))  # type: ignore[arg-type]


def test_failure_limit_tolerates_failed_measurements() -> None:
    result, client, _ = run({"q": [0.0, 0.5, 0.0, 0.0]}, metric(count=4, failure_limit=1))
    assert result.outcome is Outcome.PASS
    assert [t for t, _ in client.asked] == [1000, 1010, 1020, 1030]
    result, _, _ = run({"q": [0.0, 0.5, 0.5, 0.0]}, metric(count=4, failure_limit=1))
    assert result.outcome is Outcome.FAIL
    assert result.attempts == 3  # stops as soon as the limit is exceeded


def test_duration_means_one_measurement_per_interval_including_both_ends() -> None:
    m = metric(duration_s=30, initial_delay_s=5)
    assert m.timing.planned == 4
    _, client, _ = run({"q": [0.0] * 4}, m)
    assert [t for t, _ in client.asked] == [1005, 1015, 1025, 1035]


def test_consecutive_successes_pass_early_and_are_required() -> None:
    result, client, _ = run({"q": [0.5, 0.0, 0.0, 0.0]}, metric(count=10, failure_limit=3, consecutive_successes=2))
    assert result.outcome is Outcome.PASS and len(client.asked) == 3
    result, _, _ = run({"q": [0.0, 0.5, 0.0]}, metric(count=3, failure_limit=3, consecutive_successes=2))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "never 2 consecutive successes" in result.detail


def test_both_conditions_with_neither_holding_is_inconclusive() -> None:
    m = metric(success=Condition("<", 0.01), failure=Condition(">", 0.05), count=3)
    result, _, _ = run({"q": [0.0, 0.03]}, m)
    assert result.outcome is Outcome.INCONCLUSIVE
    result, _, _ = run({"q": [0.0, 0.08]}, m)
    assert result.outcome is Outcome.FAIL


@pytest.mark.parametrize(("policy", "outcome"), [("inconclusive", Outcome.INCONCLUSIVE), ("fail", Outcome.FAIL),
                                                 ("pass", Outcome.PASS)])
def test_no_data_policy(policy: str, outcome: Outcome) -> None:
    result, _, _ = run({"q": [None, None]}, metric(count=2, no_data=policy))
    assert result.outcome is outcome
    assert "never returned samples" in result.detail


def test_nan_is_no_data() -> None:
    result, _, _ = run({"q": [float("nan")]}, metric(count=1))
    assert result.outcome is Outcome.INCONCLUSIVE


def test_no_data_within_the_inconclusive_limit_still_needs_a_success() -> None:
    result, _, _ = run({"q": [None, 0.0]}, metric(count=2, inconclusive_limit=1))
    assert result.outcome is Outcome.PASS
    result, _, _ = run({"q": [None, None]}, metric(count=2, inconclusive_limit=5))
    assert result.outcome is Outcome.INCONCLUSIVE


def test_provider_errors_are_retried_quickly_and_never_count_as_a_pass() -> None:
    down = ProviderError("connection refused")
    result, client, _ = run({"q": [0.0, down, down, 0.0, 0.0]},
                            metric(count=3, consecutive_error_limit=2, error_retry_s=1))
    assert result.outcome is Outcome.PASS
    assert [t for t, _ in client.asked] == [1000, 1010, 1011, 1012, 1022]

    result, client, _ = run({"q": [0.0, down, down, down]}, metric(count=3, consecutive_error_limit=2, error_retry_s=1))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "3 provider errors in a row (limit 2)" in result.detail

    result, _, _ = run({"q": [down]}, metric(count=1, consecutive_error_limit=0))
    assert result.outcome is Outcome.INCONCLUSIVE


def test_worst_case_time_to_a_verdict() -> None:
    m = metric(duration_s=120, initial_delay_s=10, consecutive_error_limit=3, error_retry_s=1)
    # 13 measurements, 12 intervals, each measurement may take 3 errors (retry 1s + timeout 2s) and a query (2s)
    assert m.worst_case_s(2) == 10 + 13 * (2 + 3 * (1 + 2)) + 12 * 10
    result, _, _ = run({"q": [0.0]}, metric(count=1))
    assert result.evidence["worst_case_s"] == 2 + 3 * 3


def test_dry_run_metric_failing_does_not_stop_or_fail_the_analysis() -> None:
    shadow = metric(name="shadow", query="s", count=2, dry_run=True)
    real = metric(name="real", query="r", count=3)
    result, _, _ = run({"s": [0.5, 0.5], "r": [0.0, 0.0, 0.0]}, shadow, real)
    assert result.outcome is Outcome.PASS
    decisions = {m["name"]: m["decision"] for m in result.evidence["metrics"]}
    assert decisions == {"shadow": "FAIL", "real": "PASS"}


def test_a_failing_metric_stops_the_others() -> None:
    a = metric(name="a", query="a", count=5)
    b = metric(name="b", query="b", count=5)
    result, _, _ = run({"a": [0.5], "b": [0.0]}, a, b)
    assert result.outcome is Outcome.FAIL
    assert {m["name"]: m["decision"] for m in result.evidence["metrics"]} == {"a": "FAIL", "b": "stopped"}


def test_baseline_comparison_with_tolerance_and_slack() -> None:
    baseline = Baseline(0.1, 'version "1.0.0"', query="b", min_delta=0.001)
    m = metric(success=None, baseline=baseline, count=2)
    result, _, _ = run({"q": [0.0105, 0.0125], "b": [0.01, 0.01]}, m)
    assert result.outcome is Outcome.FAIL  # 0.0125 > 0.01 * 1.1 + 0.001
    result, _, _ = run({"q": [0.0105, 0.0109], "b": [0.01, 0.01]}, m)
    assert result.outcome is Outcome.PASS
    higher = Baseline(0.1, "recorded", value=100.0, higher_is_better=True)
    result, _, _ = run({"q": [95.0, 85.0]}, metric(success=None, baseline=higher, count=2))
    assert result.outcome is Outcome.FAIL


def test_placeholders_are_filled_and_escaped() -> None:
    query = resolve('rate(x{service="{service}",version="{version}"}[{window}])', service='a"b', version="1.1.0",
                    window_s=90)
    assert query == 'rate(x{service="a\\"b",version="1.1.0"}[90s])'
    with pytest.raises(ConfigError, match="uses \\{version\\}"):
        resolve('x{version="{version}"}', service="a")


@pytest.mark.parametrize("make", [
    lambda: metric(success=None),
    lambda: metric(count=0),
    lambda: metric(count=2, duration_s=10),
    lambda: metric(no_data="maybe"),
])
def test_bad_metric_definitions_are_config_errors(make: Callable[[], Metric]) -> None:
    with pytest.raises(ConfigError):
        make()


def test_condition_parse() -> None:
    assert Condition.parse("result >= 0.995") == Condition(">=", 0.995)
    with pytest.raises(ConfigError, match="cannot read"):
        Condition.parse("below 1%")
