"""The typed configuration (Kayenta's defaults, refusals) and a whole judgement of Kayenta's
example configuration (kayenta-judge/src/test/resources/test-config.json: its groups and weights)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from releasegate.checks.slo.judge import JudgeConfig, MetricConfig, judge

HIGH = ([10.0, 10.5, 9.5, 10.2, 9.8, 10.1, 9.9, 10.3], [20.0, 20.5, 19.5, 20.2, 19.8, 20.1, 19.9, 20.3])
SAME = ([1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0])


def test_kayenta_example_configuration() -> None:
    """test-config.json: cpu in system and example, requests in requests and example, foo in bar;
    weights requests 50, system 50: the unweighted groups (example, bar) share the 0 that is left."""
    config = JudgeConfig.model_validate({
        "metrics": [{"name": "cpu", "groups": ["system", "example"]},
                    {"name": "requests", "groups": ["requests", "example"]},
                    {"name": "foo", "groups": ["bar"]}],
        "group_weights": {"requests": 50.0, "system": 50.0},
        "pass": 95.0, "marginal": 75.0,
    })
    control = {"cpu": HIGH[0], "requests": SAME[0], "foo": SAME[0]}
    experiment = {"cpu": HIGH[1], "requests": SAME[1], "foo": SAME[1]}
    judgement = judge(config, control, experiment)
    assert [m.label for m in judgement.metrics] == ["High", "Pass", "Pass"]
    assert [(g.name, g.score, g.weight) for g in judgement.groups] == [
        ("system", 0.0, 50.0), ("example", 50.0, 0.0), ("requests", 100.0, 50.0), ("bar", 100.0, 0.0)]
    assert judgement.score == pytest.approx(50.0, abs=0.01) and judgement.classification == "Fail"
    data = judgement.to_dict()
    assert data["metrics"][0]["effect_size"] == {"measure": "meanRatio", "value": pytest.approx(20.0375 / 10.0375)}


def test_critical_metric_forces_zero() -> None:
    config = JudgeConfig(metrics=(MetricConfig(name="errors", critical=True), MetricConfig(name="latency")))
    judgement = judge(config, {"errors": HIGH[0], "latency": SAME[0]}, {"errors": HIGH[1], "latency": SAME[1]})
    assert judgement.score == 0.0 and judgement.reason == "Canary Failed: The metric errors was classified as High" \
                                                          " (Critical)"


def test_a_metric_missing_from_the_data_is_nodata() -> None:
    config = JudgeConfig(metrics=(MetricConfig(name="a"), MetricConfig(name="b"), MetricConfig(name="c")))
    judgement = judge(config, {"a": SAME[0], "b": SAME[0]}, {"a": SAME[1], "b": SAME[1]})
    assert judgement.metric("c").label == "Nodata" and judgement.score == 100.0 and judgement.passed


def test_without_metrics_every_series_is_one() -> None:
    judgement = judge(JudgeConfig(), {"x": SAME[0], "y": HIGH[0]}, {"x": SAME[1], "y": HIGH[1]})
    assert [(m.name, m.label, m.groups) for m in judgement.metrics] == [("x", "Pass", ("default",)),
                                                                        ("y", "High", ("default",))]


@pytest.mark.parametrize(("data", "message"), [
    ({"group_weights": {"a": -1}}, "the weight of group 'a' is negative"),
    ({"group_weights": {"a": 60, "b": 50}}, "the group weights add up to 110"),
    ({"metrics": [{"name": "m"}, {"name": "m"}]}, "metric 'm' is listed more than once"),
    ({"metrics": [{"name": "m", "groups": ["a"]}], "group_weights": {"b": 10}},
     "group_weights names group 'b', which no metric is in; known groups: a"),
    ({"metrics": [{"name": "m", "groups": []}]}, "at least 1 item"),
    ({"metrics": [{"name": "m", "groups": [""]}]}, "a group name cannot be empty"),
    ({"metrics": [{"name": "m", "nan_strategy": "zero"}]}, "'remove' or 'replace'"),
    ({"metrics": [{"name": "m", "outliers": {"strategy": "remove", "factor": 0}}]}, "greater than 0"),
    ({"metrics": [{"name": "m", "effect_size": {"measure": "cohen"}}]}, "'meanRatio' or 'cles'"),
    ({"pass": 50, "marginal": 60}, "marginal (60) is above pass (50)"),
    ({"confidence": 1.0}, "less than 1"),
    ({"metric": []}, "Extra inputs are not permitted"),
])
def test_refused_configurations(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as error:
        JudgeConfig.model_validate(data)
    assert message in str(error.value)


def test_groups_may_be_one_name_and_pass_has_its_kayenta_name() -> None:
    config = JudgeConfig.model_validate({"pass": 90, "metrics": [{"name": "m", "groups": "latency",
                                                                  "query": "rate(x{version='{version}'}[1m])"}]})
    assert config.pass_ == 90.0 and config.metrics[0].groups == ("latency",)
    assert config.metrics[0].query == "rate(x{version='{version}'}[1m])"
    assert config.model_dump(by_alias=True)["pass"] == 90.0
