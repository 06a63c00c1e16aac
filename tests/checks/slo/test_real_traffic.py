"""No verdict on traffic that does not represent the service (issue 14): synthetic traffic is left out of the
queries, every measurement reports the traffic it judged, and too little real traffic is INCONCLUSIVE."""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.slo_servers import PrometheusServer
from support.slo_stack import workdir

from releasegate.checks.deploy.prober import PROBER_HEADERS, SYNTHETIC_HEADER, Prober
from releasegate.checks.errors import RunbookSchemaError
from releasegate.checks.result import Outcome
from releasegate.checks.runbook.loader import load_runbook
from releasegate.checks.runbook.model import Runbook
from releasegate.checks.slo import metrics as slo
from releasegate.checks.slo.analysis import analyse
from releasegate.checks.slo.phrases import read
from releasegate.checks.slo.prometheus import PrometheusClient, QueryResult, Sample, Series
from releasegate.load.runner import load_headers

DEFAULT = 'synthetic=~"|false|load"'


def book(**slo_section: Any) -> Runbook:
    return Runbook.model_validate({
        "name": "t",
        "release": {"version": "1.1.0"},
        "services": [{"name": "api", "base_url": "http://127.0.0.1:1"}, {"name": "legacy",
                                                                         "base_url": "http://127.0.0.1:2"}],
        "prometheus": {"url": "http://127.0.0.1:1", "scrape_interval_s": 1},
        "slo": {"window_s": 10, "interval_s": 1, **slo_section},
    })


def ask(text: str) -> Any:
    found = read("threshold", text)
    assert found is not None, text
    return found


# --- the queries ---------------------------------------------------------------------------------

def test_every_request_query_carries_the_real_traffic_selector_and_alerts_do_not() -> None:
    runbook = book()
    error_rate = slo.metric_for(runbook, ask('the error rate of "api" stays below 1%'))
    assert error_rate.query.count(DEFAULT) == 2  # errors and all requests
    latency = slo.metric_for(runbook, ask('the p95 latency of "api" is below 500 ms'))
    assert DEFAULT in latency.query
    assert error_rate.traffic is not None and error_rate.traffic.min_rate == 1.0
    assert DEFAULT in error_rate.traffic.real and DEFAULT not in error_rate.traffic.total
    assert error_rate.traffic.real.startswith("sum by (path) (rate(http_requests_total{")
    alerts = read("alerts", 'no alert is firing for "api"')
    assert alerts is not None
    alert_metric = slo.metric_for(runbook, alerts)
    assert "synthetic" not in alert_metric.query and alert_metric.traffic is None


def test_selector_and_minimum_per_service_and_an_empty_selector_counts_everything() -> None:
    runbook = book(services={"legacy": {"real_traffic_selector": 'user_agent!~"releasegate-.*"',
                                        "min_request_rate": 0.5}},
                   min_request_rate=3)
    legacy = slo.metric_for(runbook, ask('the error rate of "legacy" stays below 1%'))
    assert 'user_agent!~"releasegate-.*"' in legacy.query and "synthetic" not in legacy.query
    assert legacy.traffic is not None and legacy.traffic.min_rate == 0.5
    api = slo.metric_for(runbook, ask('the error rate of "api" stays below 1%'))
    assert DEFAULT in api.query and api.traffic is not None and api.traffic.min_rate == 3
    everything = slo.metric_for(book(real_traffic_selector=""), ask('the error rate of "api" stays below 1%'))
    assert "synthetic" not in everything.query
    assert [m.traffic is not None for m in slo.runbook_metrics(runbook, "api")] == [True, True, True, False]


@pytest.mark.parametrize(("yaml", "message"), [
    ("slo:\n  real_traffic_selector: 'synthetic is not prober'\n",
     r"t.yaml:3: slo.real_traffic_selector: .*cannot read the label matcher 'synthetic is not prober'"),
    ("slo:\n  min_request_rate: -1\n", r"t.yaml:3: slo.min_request_rate"),
    ("slo:\n  services:\n    api: {real_traffic_selector: 'user_agent like bots'}\n",
     r"t.yaml:4: slo.services.api.real_traffic_selector: .*cannot read the label matcher 'user_agent like bots'"),
    ("slo:\n  services: {nope: {min_request_rate: 2}}\n", r"slo.services names 'nope', which is not one of"),
    ("deploy:\n  canary: {load: nope}\n", r"deploy.canary.load 'nope' is not one of the load profiles"),
])
def test_bad_traffic_settings_are_one_line_naming_file_line_and_field(tmp_path: Path, yaml: str,
                                                                      message: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("name: t\n" + yaml + "services: [{name: api, base_url: 'http://127.0.0.1:1'}]\n")
    with pytest.raises(RunbookSchemaError, match=message) as caught:
        load_runbook(path, {})
    assert "\n" not in str(caught.value)


def test_the_canary_gate_judges_the_canary_version_after_one_window() -> None:
    gate = slo.canary_metrics(book(), "api", "1.1.0-errors")
    error_rate = gate[0]
    assert 'version="1.1.0-errors"' in error_rate.query and DEFAULT in error_rate.query
    assert error_rate.traffic is not None and 'version="1.1.0-errors"' in error_rate.traffic.real
    assert error_rate.timing.initial_delay_s == 10  # slo.window_s: the window holds traffic at this weight only


def test_max_duration_caps_a_measurement_and_says_so() -> None:
    runbook = book(max_duration_s=6)
    metric = slo.metric_for(runbook, ask('the error rate of "api" stays below 5% for 5 minutes,'
                                         " sampled every 15 seconds"))
    assert metric.timing.duration_s == 6 and metric.timing.interval_s == 6
    assert "measured for 6s instead of 300s (slo.max_duration_s" in metric.note


# --- the judgement, on answers given by a fake Prometheus --------------------------------------------

class Answers:
    """A QueryClient answering each query by what it asks for: real traffic, all traffic, or the value."""

    def __init__(self, value: float, real: dict[str, float], synthetic: dict[str, float]) -> None:
        self.value, self.real, self.synthetic = value, real, synthetic
        self.queries: list[str] = []

    def query(self, promql: str, at: float | None = None) -> QueryResult:
        self.queries.append(promql)
        now = time.time()
        if promql.startswith("sum by (path)"):
            real = DEFAULT in promql
            rates = {p: self.real.get(p, 0.0) + (0.0 if real else self.synthetic.get(p, 0.0))
                     for p in set(self.real) | set(self.synthetic)}
            return QueryResult(promql, "vector", [Series({"path": p}, [Sample(now, v)]) for p, v in rates.items()
                                                  if v or p in self.real])
        return QueryResult(promql, "vector", [Series({}, [Sample(now, self.value)])])


def judge(runbook: Runbook, client: Answers, text: str) -> Any:
    metric = slo.metric_for(runbook, ask(text))
    return analyse(client, [metric], name="t", sleep=lambda s: None)


def test_below_the_minimum_real_traffic_the_verdict_is_inconclusive_never_pass() -> None:
    # the issue's case: the prober's health checks are plenty of traffic, the users' are not
    client = Answers(0.0, real={"/api/items": 0.2}, synthetic={"/health": 50.0})
    result = judge(book(), client, 'the error rate of "api" is below 5%')
    assert result.outcome is Outcome.INCONCLUSIVE, result.summary()
    assert "not enough traffic to judge: 0.2 req/s of real traffic, need 1" in result.detail
    seen = result.evidence["metrics"][0]["measurements"][0]["traffic"]
    assert seen["real_rps"] == 0.2 and seen["synthetic_rps"] == 50.0
    assert {e["endpoint"]: (e["real_rps"], e["synthetic_rps"]) for e in seen["by_endpoint"]} == {
        "/api/items": (0.2, 0.0), "/health": (0.0, 50.0)}
    assert result.evidence["traffic"]['error rate of "api"']["lowest_real_rps"] == 0.2


def test_a_failing_value_over_too_little_traffic_is_inconclusive_too_and_no_data_pass_does_not_pass() -> None:
    failing = judge(book(), Answers(0.5, real={"/api/items": 0.1}, synthetic={}), 'the error rate of "api" is below 5%')
    assert failing.outcome is Outcome.INCONCLUSIVE
    no_traffic = judge(book(no_data="pass"), Answers(float("nan"), real={}, synthetic={"/health": 50.0}),
                       'the error rate of "api" is below 5%')
    assert no_traffic.outcome is Outcome.INCONCLUSIVE
    assert "not enough traffic to judge: 0 req/s of real traffic, need 1" in no_traffic.detail


def test_enough_real_traffic_is_judged_and_reported() -> None:
    client = Answers(0.2, real={"/api/items": 4.0, "/health": 1.0}, synthetic={"/health": 50.0})
    failed = judge(book(), client, 'the error rate of "api" is below 5%')
    assert failed.outcome is Outcome.FAIL, failed.summary()
    assert "over 5-5 req/s of real traffic (50 req/s synthetic left out)" in failed.summary()
    client.value = 0.0
    passed = judge(book(min_request_rate=5), client, 'the error rate of "api" is below 5%')
    assert passed.outcome is Outcome.PASS
    assert len(client.queries) == 2 * 3  # the value, real and all traffic, per measurement


# --- the real thing: releasegate's prober and a user against a service, a real Prometheus ----------

class LabelledService:
    """Counts requests by path, status and the synthetic header, as the demo service does: /health answers 200,
    /api/items 500 (a broken build's API)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.agents: Counter[str] = Counter()
        self.lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    body = service.render().encode()
                    status = 200
                else:
                    status = 200 if self.path == "/health" else 500
                    kind = self.headers.get(SYNTHETIC_HEADER)
                    with service.lock:
                        service.counts[(self.path, str(status), kind or "false")] += 1
                        service.agents[self.headers.get("User-Agent", "")] += 1
                    body = b'{"version": "1.1.0"}'
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def render(self) -> str:
        with self.lock:
            lines = [f'http_requests_total{{path="{p}",status="{s}",synthetic="{k}",version="1.1.0"}} {n}'
                     for (p, s, k), n in sorted(self.counts.items())]
        return "# TYPE http_requests_total counter\n" + "\n".join(lines) + "\n"


@pytest.fixture
def labelled() -> Iterator[tuple[LabelledService, PrometheusServer]]:
    service = LabelledService()
    folder = workdir("traffic")
    prometheus = PrometheusServer(folder, {"api": [service.url.removeprefix("http://")]}).start()
    try:
        yield service, prometheus
    finally:
        prometheus.stop()
        service.server.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


def test_prober_traffic_is_left_out_and_a_broken_api_under_it_fails(
        labelled: tuple[LabelledService, PrometheusServer]) -> None:
    service, prometheus = labelled
    runbook = book(window_s=4)
    watch = 'the error rate of "api" is below 10%'
    with Prober(f"{service.url}/health", rate_per_s=40), PrometheusClient(prometheus.url, 2) as client:
        prometheus.wait_for_series('sum(rate(http_requests_total{synthetic="prober"}[4s])) > 20')
        alone = analyse(client, [slo.metric_for(runbook, ask(watch))], name="prober only")
        assert alone.outcome is Outcome.INCONCLUSIVE, alone.summary()
        assert re.search(r"not enough traffic to judge: 0 req/s of real traffic, need 1", alone.detail)

        stop = threading.Event()

        def user() -> None:  # a user of the broken API, 5 requests a second
            with httpx.Client(timeout=2) as http:
                while not stop.wait(0.2):
                    http.get(f"{service.url}/api/items")

        worker = threading.Thread(target=user, daemon=True)
        worker.start()
        try:
            prometheus.wait_for_series('sum(rate(http_requests_total{synthetic="false"}[4s])) > 2')
            judged = analyse(client, [slo.metric_for(runbook, ask(watch))], name="real traffic")
            diluted = analyse(client, [slo.metric_for(book(window_s=4, real_traffic_selector=""), ask(watch))],
                              name="everything counted")
        finally:
            stop.set()
            worker.join(5)
    assert judged.outcome is Outcome.FAIL, judged.summary()
    assert judged.evidence["metrics"][0]["measurements"][0]["value"] == 1.0
    seen = judged.evidence["metrics"][0]["measurements"][0]["traffic"]
    endpoints = {e["endpoint"]: e for e in seen["by_endpoint"]}
    assert endpoints["/api/items"]["real_rps"] > 2 and endpoints["/health"]["synthetic_rps"] > 20
    assert endpoints["/health"]["real_rps"] == 0
    # what the issue describes: counted with the prober's 40 probes/s, 5 failing requests/s are under 10%
    assert diluted.outcome is Outcome.PASS, diluted.summary()
    assert service.agents[PROBER_HEADERS["User-Agent"]] > 0
    assert PROBER_HEADERS["User-Agent"].startswith("releasegate-prober/")


def test_load_profiles_say_they_are_load() -> None:
    headers = load_headers("canary traffic")
    assert headers[SYNTHETIC_HEADER] == "load"
    assert re.fullmatch(r"releasegate-load/\S+ \(canary-traffic\)", headers["User-Agent"])
