"""Built-in SLO metrics (error rate, success rate, latency quantile, request rate, alerts, baselines).

The queries are written against the metric and label names of the runbook's ``prometheus``
section, so a service that exports ``http_requests_total{service,version,status}`` and the
``http_request_duration_seconds`` histogram works without writing PromQL. ``metric_for`` turns
what a step phrase asks for (``phrases.Ask``) into a ``Metric`` with the runbook's label names,
window and timing; ``measure`` and ``analyse_service`` run them against the runbook's Prometheus.

Every request-based query carries the service's real-traffic selector (``slo.real_traffic_selector``,
or ``slo.services.NAME.real_traffic_selector``), so releasegate's own prober never counts, and
every built-in measurement of a service asks how much real traffic it judged
(``analysis.Traffic``): below ``slo.min_request_rate`` a measurement is INCONCLUSIVE.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from releasegate.checks.errors import ConfigError
from releasegate.checks.result import CheckResult, Outcome
from releasegate.checks.runbook.model import Prometheus, Runbook
from releasegate.checks.slo.analysis import Baseline, Condition, Metric, Traffic, Unit, analyse, resolve
from releasegate.checks.slo.phrases import Ask
from releasegate.checks.slo.prometheus import PrometheusClient, PrometheusError, duration, matcher
from releasegate.checks.slo.timing import DEFAULT_TIMING, Timing

Kind = Literal["error_rate", "success_rate", "latency", "request_rate", "alerts"]

KINDS: dict[str, tuple[Unit, bool, float]] = {
    # kind: (unit, higher is better, default absolute slack in baseline comparisons)
    "error_rate": ("ratio", False, 0.001),
    "success_rate": ("ratio", True, 0.001),
    "latency": ("seconds", False, 0.005),
    "request_rate": ("per_second", True, 0.0),
    "alerts": ("count", False, 0.0),
}


@dataclass(frozen=True)
class Schema:
    """Names of the metrics and labels the built-in queries use."""

    requests_metric: str = "http_requests_total"
    latency_histogram: str = "http_request_duration_seconds"
    service_label: str = "service"
    version_label: str = "version"
    status_label: str = "status"
    error_status: str = "5.."
    alert_service_label: str | None = "service"
    traffic_selector: str = ""
    endpoint_label: str = "path"

    @classmethod
    def from_runbook(cls, prometheus: Prometheus | None, traffic_selector: str = "",
                     endpoint_label: str = "path") -> Schema:
        if prometheus is None:
            return cls(traffic_selector=traffic_selector, endpoint_label=endpoint_label)
        return cls(
            prometheus.requests_metric,
            prometheus.latency_histogram,
            prometheus.service_label,
            prometheus.version_label,
            prometheus.status_label,
            prometheus.error_status,
            prometheus.alert_service_label,
            traffic_selector,
            endpoint_label,
        )

    @classmethod
    def for_service(cls, runbook: Runbook, service: str | None) -> Schema:
        """The runbook's names, with the real-traffic selector of ``service``."""
        selector, _ = runbook.slo.traffic(service)
        return cls.from_runbook(runbook.prometheus, selector, runbook.slo.endpoint_label)

    def selector(self, service: str | None, version: str | None, *extra: str, real: bool = True) -> str:
        """Label matchers of a request query; ``real`` adds the real-traffic selector."""
        matchers = []
        if service:
            matchers.append(matcher(self.service_label, service))
        if version:
            matchers.append(matcher(self.version_label, version))
        matchers.extend(extra)
        if real and self.traffic_selector:
            matchers.append(self.traffic_selector)
        return "{" + ",".join(matchers) + "}"


TRAFFIC_KINDS = ("error_rate", "success_rate", "latency")
"""The built-ins whose value means something only over enough real traffic (request_rate is the traffic)."""


def traffic(schema: Schema, service: str | None, version: str | None, window_s: float,
            min_rate: float) -> Traffic:
    """The traffic a measurement of ``service`` (and ``version``) judges: requests/s by endpoint, real and all."""
    window = duration(window_s)
    by = f"sum by ({schema.endpoint_label})"
    real = f"{by} (rate({schema.requests_metric}{schema.selector(service, version)}[{window}]))"
    total = f"{by} (rate({schema.requests_metric}{schema.selector(service, version, real=False)}[{window}]))"
    return Traffic(real, total, min_rate, schema.traffic_selector, schema.endpoint_label)


def query(kind: str, schema: Schema, service: str | None, version: str | None, window_s: float,
          quantile: float = 0.95) -> str:
    """The PromQL of a built-in measurement."""
    window = duration(window_s)
    sel = schema.selector(service, version)
    total = f"sum(rate({schema.requests_metric}{sel}[{window}]))"
    if kind == "error_rate":
        errors = schema.selector(service, version, f'{schema.status_label}=~"{schema.error_status}"')
        return f"(sum(rate({schema.requests_metric}{errors}[{window}])) or vector(0)) / {total}"
    if kind == "success_rate":
        good = schema.selector(service, version, f'{schema.status_label}!~"{schema.error_status}"')
        return f"(sum(rate({schema.requests_metric}{good}[{window}])) or vector(0)) / {total}"
    if kind == "latency":
        return (
            f"histogram_quantile({quantile:g}, sum by (le) "
            f"(rate({schema.latency_histogram}_bucket{sel}[{window}])))"
        )
    if kind == "request_rate":
        return total
    if kind == "alerts":
        matchers = ['alertstate="firing"']
        if service and schema.alert_service_label:
            matchers.append(matcher(schema.alert_service_label, service))
        return "ALERTS{" + ",".join(matchers) + "}"
    raise ConfigError(f"unknown built-in measurement {kind!r}; use one of {', '.join(KINDS)}")


def label(kind: str, quantile: float = 0.95) -> str:
    if kind == "latency":
        return f"p{quantile * 100:g} latency"
    return kind.replace("_", " ")


def builtin(
    kind: str,
    schema: Schema,
    service: str | None,
    *,
    success: Condition | None = None,
    failure: Condition | None = None,
    version: str | None = None,
    window_s: float = 60.0,
    quantile: float = 0.95,
    timing: Timing = DEFAULT_TIMING,
    name: str | None = None,
    min_request_rate: float | None = None,
) -> Metric:
    """A built-in measurement of one service (and version), judged by ``success``/``failure``.

    With ``min_request_rate`` an error rate, success rate or latency also measures the real traffic it
    judges, and is INCONCLUSIVE below that many requests per second.
    """
    unit = KINDS[kind][0] if kind in KINDS else ""
    subject = f' of "{service}"' if service else ""
    if version:
        subject += f' version "{version}"'
    return _metric(
        timing,
        name=name or f"{label(kind, quantile)}{subject}",
        query=query(kind, schema, service, version, window_s, quantile),
        success=success,
        failure=failure,
        window_s=None if kind == "alerts" else window_s,
        unit=unit,
        reduce="count" if kind == "alerts" else "worst",
        empty_value=0.0 if kind == "alerts" else None,
        traffic=traffic(schema, service, version, window_s, min_request_rate)
        if min_request_rate is not None and kind in TRAFFIC_KINDS else None,
    )


def compare(
    kind: str,
    schema: Schema,
    service: str | None,
    *,
    version: str,
    tolerance: float,
    baseline_version: str | None = None,
    recorded: float | None = None,
    min_delta: float | None = None,
    window_s: float = 60.0,
    quantile: float = 0.95,
    timing: Timing = DEFAULT_TIMING,
    min_request_rate: float | None = None,
) -> Metric:
    """The new version against the previous version's live figures, or against a recorded figure.

    With ``min_request_rate`` the new version's real traffic must reach it (see ``builtin``).
    """
    if kind not in KINDS or kind == "alerts":
        raise ConfigError(f"cannot compare {kind!r} with a baseline; compare error_rate, success_rate, latency"
                          " or request_rate")
    unit, higher_is_better, default_delta = KINDS[kind]
    if baseline_version is not None:
        baseline = Baseline(
            tolerance,
            f'version "{baseline_version}"',
            query=query(kind, schema, service, baseline_version, window_s, quantile),
            min_delta=default_delta if min_delta is None else min_delta,
            higher_is_better=higher_is_better,
        )
    elif recorded is not None:
        baseline = Baseline(
            tolerance,
            f"the recorded figure {recorded:g}",
            value=recorded,
            min_delta=default_delta if min_delta is None else min_delta,
            higher_is_better=higher_is_better,
        )
    else:
        raise ConfigError("a comparison needs the baseline version or a recorded figure")
    subject = f' of "{service}"' if service else ""
    return _metric(
        timing,
        name=f'{label(kind, quantile)}{subject} version "{version}" vs {baseline.description}',
        query=query(kind, schema, service, version, window_s, quantile),
        baseline=baseline,
        window_s=window_s,
        unit=unit,
        traffic=traffic(schema, service, version, window_s, min_request_rate)
        if min_request_rate is not None and kind in TRAFFIC_KINDS else None,
    )


def custom(
    name: str,
    template: str,
    *,
    service: str = "",
    version: str = "",
    window_s: float = 60.0,
    success: str | None = None,
    failure: str | None = None,
    timing: Timing = DEFAULT_TIMING,
) -> Metric:
    """A PromQL metric written in the runbook, with {service}/{version}/{window} filled in."""
    where = f"slo.metrics {name!r}"
    return _metric(
        timing,
        name=name,
        query=resolve(template, service=service, version=version, window_s=window_s),
        success=Condition.parse(success, f"{where} success") if success else None,
        failure=Condition.parse(failure, f"{where} failure") if failure else None,
        window_s=window_s if "{window}" in template else None,
    )


def runbook_metrics(runbook: Runbook, service: str, timing: Timing | None = None, *,
                    version: str | None = None) -> list[Metric]:
    """The runbook's whole SLO analysis of one service (of one ``version`` when given, as a canary gate does):
    error rate, latency, success rate, request rate, alerts, extras."""
    slo = runbook.slo
    schema = Schema.for_service(runbook, service)
    _, min_rate = slo.traffic(service)
    base, note = capped(runbook, timing or Timing().changed_by(slo).with_(duration_s=slo.window_s))
    common: dict[str, Any] = {"version": version, "window_s": slo.window_s, "timing": base}
    metrics = [
        builtin("error_rate", schema, service, success=Condition("<", slo.error_rate_max),
                min_request_rate=min_rate, **common),
        builtin("latency", schema, service, success=Condition("<", slo.p95_latency_max_s),
                quantile=slo.latency_quantile, min_request_rate=min_rate, **common),
        builtin("success_rate", schema, service, success=Condition(">=", slo.availability_min),
                min_request_rate=min_rate, **common),
    ]
    if slo.request_rate_min is not None:
        metrics.append(builtin("request_rate", schema, service, success=Condition(">=", slo.request_rate_min),
                               **common))
    if slo.alerts:
        metrics.append(builtin("alerts", schema, service, success=Condition("==", 0), timing=base))
    for metric in metrics:
        metric.note = note
    version = version or runbook.version_to
    for extra in slo.metrics:
        metrics.append(custom(extra.name, extra.query, service=service, version=version or "",
                              window_s=slo.window_s, success=extra.success, failure=extra.failure,
                              timing=base.changed_by(extra)))
    return metrics


def analyse_service(runbook: Runbook, service: str) -> CheckResult:
    """The runbook's whole SLO analysis of one service; INCONCLUSIVE when the runbook cannot describe it."""
    name = f'SLO analysis of "{service}"'
    try:
        metrics = runbook_metrics(runbook, service)
    except ConfigError as exc:
        return CheckResult.unknown(name, str(exc))
    return run(runbook, metrics, name)


def run(runbook: Runbook, metrics: list[Metric], name: str) -> CheckResult:
    """Run an analysis against the runbook's Prometheus; INCONCLUSIVE when none is configured."""
    if runbook.prometheus is None:
        return CheckResult.unknown(name, "the runbook has no prometheus section; add prometheus.url",
                                   expected=[m.name for m in metrics])
    with PrometheusClient(runbook.prometheus.url, runbook.prometheus.timeout_s) as client:
        result = analyse(client, metrics, name=name, query_timeout_s=runbook.prometheus.timeout_s)
        alerts = [m for m in metrics if m.query.startswith("ALERTS{") and not m.timing.dry_run]
        if alerts and result.passed:
            _require_alert_rules(client, result)
    scrape = runbook.prometheus.scrape_interval_s
    short = [m.name for m in metrics if m.window_s is not None and m.window_s < 2 * scrape]
    if short:
        warning = (
            f"window shorter than two scrape intervals ({2 * scrape:g}s) for {', '.join(short)}: rate() has no data"
        )
        result.evidence["warnings"].append(warning)
        result.detail += f"; warning: {warning}"
    return result


def _require_alert_rules(client: PrometheusClient, result: CheckResult) -> None:
    """"No alert is firing" proves nothing when Prometheus evaluates no alerting rule at all."""
    try:
        rules = client.alert_rules()
    except PrometheusError as exc:
        result.outcome = Outcome.INCONCLUSIVE
        result.detail += f"; could not list the alerting rules: {exc}"
        return
    result.evidence["alert_rules"] = rules
    if not rules:
        result.outcome = Outcome.INCONCLUSIVE
        result.detail += ("; Prometheus has no alerting rule loaded, so no alert can fire: load the rules"
                          " (rule_files) or drop the alerts check")


def capped(runbook: Runbook, timing: Timing) -> tuple[Timing, str]:
    """``timing`` with its duration cut to ``slo.max_duration_s`` (a rehearsal), and the note saying so."""
    cap = runbook.slo.max_duration_s
    if cap is None or timing.duration_s is None or timing.duration_s <= cap:
        return timing, ""
    note = f"measured for {cap:g}s instead of {timing.duration_s:g}s (slo.max_duration_s of this runbook)"
    return timing.with_(duration_s=cap, interval_s=min(timing.interval_s, cap)), note


def canary_metrics(runbook: Runbook, service: str, version: str | None) -> list[Metric]:
    """The analysis gate of one canary step: the runbook's SLO analysis of the canary's version.

    The first measurement waits one query window (``slo.window_s``, at least three scrapes) after the weight
    changed, so each step is judged on traffic at that weight; the rest is the runbook's slo timing.
    """
    slo = runbook.slo
    scrape = runbook.prometheus.scrape_interval_s if runbook.prometheus else 1.0
    delay = max(slo.initial_delay_s, slo.window_s, 3 * scrape + 1)
    timing = Timing().changed_by(slo).with_(duration_s=slo.window_s, initial_delay_s=delay)
    return runbook_metrics(runbook, service, timing, version=version)


def _metric(timing: Timing, **fields: Any) -> Metric:
    # a count wins over a duration given with it
    return Metric(timing=timing if timing.count is None else replace(timing, duration_s=None), **fields)


def metric_for(runbook: Runbook, ask: Ask) -> Metric:
    """The Metric a phrase asks for, with the runbook's label names, window, limits and traffic selector."""
    slo = runbook.slo
    schema = Schema.for_service(runbook, ask.service)
    _, min_rate = slo.traffic(ask.service)
    quantile = ask.quantile if ask.quantile is not None else slo.latency_quantile
    timing = Timing().changed_by(slo).with_(**ask.timing)
    if "duration_s" not in ask.timing:
        # "stays below" is measured over the window, "is below" once
        held = ask.hold or "consecutive_successes" in ask.timing
        timing = timing.with_(duration_s=slo.window_s) if held else timing.with_(count=1)
    timing, note = capped(runbook, timing)
    metric = _ask_metric(runbook, ask, schema, quantile, timing, min_rate)
    metric.note = note
    return metric


def _ask_metric(runbook: Runbook, ask: Ask, schema: Schema, quantile: float, timing: Timing,
                min_rate: float) -> Metric:
    slo = runbook.slo
    if ask.tolerance is not None:
        version = ask.version or runbook.version_to
        if not version:
            raise ConfigError("a comparison needs the new version: name it in the step or set release.version")
        recorded = None
        if ask.recorded:
            if ask.kind not in slo.baseline:
                known = ", ".join(sorted(slo.baseline)) or "none"
                raise ConfigError(f"slo.baseline has no recorded {ask.kind!r} figure (recorded: {known});"
                                  f" add slo.baseline.{ask.kind} to the runbook")
            recorded = slo.baseline[ask.kind]
        return compare(ask.kind, schema, ask.service, version=version, tolerance=ask.tolerance,
                       baseline_version=ask.baseline_version, recorded=recorded,
                       min_delta=slo.baseline_min_delta.get(ask.kind), window_s=slo.window_s, quantile=quantile,
                       timing=timing, min_request_rate=min_rate)
    return builtin(ask.kind, schema, ask.service, success=ask.condition, version=ask.version,
                   window_s=slo.window_s, quantile=quantile, timing=timing, min_request_rate=min_rate)


def measure(runbook: Runbook, ask: Ask, name: str) -> CheckResult:
    """Run the analysis a phrase asks for; a phrase the runbook cannot serve is INCONCLUSIVE with the fix."""
    try:
        metric = metric_for(runbook, ask)
    except ConfigError as exc:
        return CheckResult.unknown(name, str(exc))
    return run(runbook, [metric], metric.name)


def during_load(runbook: Runbook, ask: Ask, load_s: float) -> Ask:
    """The ask measured while a load of ``load_s`` seconds runs: it starts once Prometheus has scraped the
    load's traffic twice, and lasts the rest of the load, unless the phrase says when or how long."""
    scrape = runbook.prometheus.scrape_interval_s if runbook.prometheus else 1.0
    # the first measurement needs two scrapes of the load's traffic inside the query window
    delay = ask.timing.get("initial_delay_s", max(runbook.slo.initial_delay_s, 3 * scrape + 1))
    length = ask.timing.get("duration_s", max(0.0, load_s - delay))
    cap = runbook.slo.max_duration_s
    if cap is not None:
        length = min(length, cap)
    return replace(ask, timing={**ask.timing, "initial_delay_s": delay, "duration_s": length})


def analysis_under_load(runbook: Runbook, service: str) -> list[Metric]:
    """The runbook's SLO analysis of ``service`` while a load runs: it starts once Prometheus has scraped the
    load's traffic twice and lasts one window (``slo.window_s``)."""
    scrape = runbook.prometheus.scrape_interval_s if runbook.prometheus else 1.0
    slo = runbook.slo
    timing = Timing().changed_by(slo).with_(duration_s=slo.window_s,
                                            initial_delay_s=max(slo.initial_delay_s, 3 * scrape + 1))
    return runbook_metrics(runbook, service, timing)


def planned_s(metrics: list[Metric]) -> float:
    """How long the analysis of ``metrics`` lasts when every query answers at once."""
    return max(m.timing.initial_delay_s + (m.timing.planned - 1) * m.timing.interval_s for m in metrics)
