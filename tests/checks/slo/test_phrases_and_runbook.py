"""Reading SLO phrases and the SLO parts of the runbook (no Prometheus needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasegate.checks.errors import ConfigError, RunbookSchemaError
from releasegate.checks.runbook.loader import load_runbook
from releasegate.checks.runbook.model import Runbook
from releasegate.checks.slo import metrics as slo
from releasegate.checks.slo.analysis import Condition
from releasegate.checks.slo.phrases import read
from releasegate.checks.slo.timing import Timing
from releasegate.steps._phrases import slo_phrase


def test_seed_phrases_read_as_intended() -> None:
    ask = read("threshold", 'the error rate of "demo-api" stays below 1% for 2 minutes, sampled every 10 seconds,'
                            " tolerating 1 failure")
    assert ask is not None
    assert (ask.kind, ask.service, ask.condition, ask.timing) == (
        "error_rate", "demo-api", Condition("<", 0.01), {"duration_s": 120, "interval_s": 10, "failure_limit": 1})
    ask = read("threshold", 'the p95 latency of "demo-api" stays below 500 ms for 30 seconds')
    assert ask is not None and ask.kind == "latency" and ask.quantile == 0.95 and ask.condition == Condition("<", 0.5)
    ask = read("threshold", 'the success rate of "demo-api" is at least 99.5%')
    assert ask is not None and ask.condition == Condition(">=", 0.995) and not ask.hold
    ask = read("comparison", 'the error rate of version "1.1.0" is within 10% of version "1.0.0"')
    assert ask is not None and (ask.version, ask.baseline_version, ask.tolerance, ask.service) == (
        "1.1.0", "1.0.0", 0.1, None)
    assert read("alerts", 'no alert is firing for "demo-api"') is not None


@pytest.mark.parametrize("text", [
    'the error rate of "demo-api" stays below 1 second',            # a ratio in seconds
    'the error rate of "demo-api" stays below 5',                   # 5 is not a ratio and has no %
    'the error rate of "demo-api" stays below 1% tolerating most',  # unknown option
    'the p95 latency of "demo-api" stays below 1%',
])
def test_phrases_that_do_not_make_sense_do_not_match(text: str) -> None:
    assert read("threshold", text) is None
    assert not slo_phrase("threshold").is_matching(text)


def test_under_load_prefix() -> None:
    parser = slo_phrase("threshold", under_load=True)
    arguments = parser.parse_arguments('while the load profile "release" runs, the error rate of "demo-api" stays'
                                       " below 1%")
    assert arguments is not None and arguments["load"] == "release"
    assert parser.name.startswith('while the load profile "NAME" runs, the <error rate')


def runbook() -> Runbook:
    return Runbook.model_validate({
        "name": "t",
        "release": {"version": "1.1.0"},
        "prometheus": {"url": "http://127.0.0.1:19199", "service_label": "app", "version_label": "release"},
        "slo": {"window_s": 30, "interval_s": 5, "baseline": {"error_rate": 0.01}},
    })


def test_metric_for_uses_the_runbook_labels_window_and_defaults() -> None:
    ask = read("threshold", 'the error rate of "demo-api" version "1.1.0" stays below 1%')
    assert ask is not None
    metric = slo.metric_for(runbook(), ask)
    assert 'app="demo-api",release="1.1.0"' in metric.query and "[30s]" in metric.query
    assert metric.timing.interval_s == 5 and metric.timing.planned == 7
    recorded = read("comparison", 'the p95 latency of version "1.1.0" is within 10% of the recorded baseline')
    assert recorded is not None
    with pytest.raises(ConfigError, match=r"slo\.baseline has no recorded 'latency' figure"):
        slo.metric_for(runbook(), recorded)


def test_slo_metric_errors_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "local.yaml"
    path.write_text("name: local\nslo:\n  metrics:\n    - name: depth\n      query: up\n      success: below 3\n")
    with pytest.raises(RunbookSchemaError, match=r"local.yaml:6: slo.metrics\[0\].success: expected a comparison"):
        load_runbook(path, {})
    path.write_text("name: local\nslo:\n  metrics:\n    - name: depth\n      query: up\n")
    with pytest.raises(RunbookSchemaError, match="needs a success or a failure condition"):
        load_runbook(path, {})


def test_runbook_analysis_has_every_builtin_and_the_extra_metrics() -> None:
    book = Runbook.model_validate({
        "name": "t",
        "prometheus": {"url": "http://127.0.0.1:19199"},
        "slo": {"request_rate_min": 1, "metrics": [{"name": "depth", "query": 'q{s="{service}"}', "failure": "> 5",
                                                     "dry_run": True, "count": 2}]},
    })
    metrics = slo.runbook_metrics(book, "demo-api")
    assert [m.name for m in metrics] == ['error rate of "demo-api"', 'p95 latency of "demo-api"',
                                         'success rate of "demo-api"', 'request rate of "demo-api"',
                                         'alerts of "demo-api"', "depth"]
    assert metrics[-1].query == 'q{s="demo-api"}' and metrics[-1].timing.dry_run and metrics[-1].timing.planned == 2


def test_no_prometheus_section_is_inconclusive() -> None:
    book = Runbook.model_validate({"name": "t"})
    result = slo.run(book, [slo.builtin("error_rate", slo.Schema(), "x", success=Condition("<", 0.01))], "x")
    assert result.inconclusive and "prometheus.url" in result.detail


def test_every_phrase_option_sets_a_timing_field_and_a_load_sets_the_rest() -> None:
    ask = read("threshold", 'the error rate of "demo-api" stays below 1% for 30 seconds, sampled every 2 seconds,'
                            " tolerating 1 failure, after 5 seconds, with 2 consecutive successes, as a dry run")
    assert ask is not None
    timing = Timing().with_(**ask.timing)
    assert (timing.duration_s, timing.interval_s, timing.failure_limit, timing.initial_delay_s,
            timing.consecutive_successes, timing.dry_run) == (30, 2, 1, 5, 2, True)
    plain = read("threshold", 'the error rate of "demo-api" stays below 1%')
    assert plain is not None
    # under a 20 s load: after two scrapes of its traffic (scrape interval 1 s), for the rest of the load
    assert slo.during_load(runbook(), plain, 20).timing == {"initial_delay_s": 4, "duration_s": 16}
    assert slo.during_load(runbook(), ask, 20).timing == ask.timing
