"""Is monitoring in place? Alert rules loaded, every instance of a service scraped, a metric reported.

These answer the seeds' "monitoring alerts configured", "real-time monitoring active" and "metrics
collection" lines against the Prometheus of the runbook. A Prometheus that does not answer gives
INCONCLUSIVE, never PASS; so does a runbook without a prometheus section. The ``check_*``
functions take the runbook and ask its Prometheus; the others take a client.
"""

from __future__ import annotations

from collections.abc import Callable

from releasegate.checks.result import CheckResult, combine
from releasegate.checks.runbook.model import Runbook
from releasegate.checks.slo.prometheus import PrometheusClient, PrometheusError, matcher


def check_alert_rules(runbook: Runbook, names: list[str], check: str = "alert rules loaded") -> CheckResult:
    """Each named alerting rule is loaded in the runbook's Prometheus."""
    return _asking(runbook, check, lambda client: alert_rules_loaded(client, names))


def check_service_scraped(runbook: Runbook, service: str) -> CheckResult:
    """Every scrape target with the service's label (prometheus.service_label) is up, and there is one."""
    label = _service_label(runbook)
    return _asking(runbook, f"Prometheus scrapes {service}", lambda client: service_scraped(client, service, label))


def check_metric_reported(runbook: Runbook, metric: str, service: str) -> CheckResult:
    """The runbook's Prometheus holds a series of the metric for the service."""
    label = _service_label(runbook)
    return _asking(runbook, f"{metric} of {service}", lambda client: metric_reported(client, metric, service, label))


def _service_label(runbook: Runbook) -> str:
    return runbook.prometheus.service_label if runbook.prometheus else "service"


def _asking(runbook: Runbook, check: str, ask: Callable[[PrometheusClient], CheckResult]) -> CheckResult:
    if runbook.prometheus is None:
        return CheckResult.unknown(check, f"runbook {runbook.name!r} has no prometheus section",
                                   "a Prometheus to ask (prometheus.url)")
    with PrometheusClient(runbook.prometheus.url, runbook.prometheus.timeout_s) as client:
        return ask(client)


def alert_rules_loaded(client: PrometheusClient, names: list[str]) -> CheckResult:
    """Each named alerting rule is loaded (``/api/v1/rules``)."""
    check = "alert rules loaded: " + ", ".join(names)
    try:
        loaded = sorted(set(client.alert_rules()))
    except PrometheusError as exc:
        return CheckResult.unknown(check, str(exc), names)
    results = [CheckResult.judge(f"alert rule {name}", name in loaded, "loaded" if name in loaded else "not loaded",
                                 "loaded") for name in names]
    result = combine(check, results)
    result.observed = {"missing": [n for n in names if n not in loaded], "loaded": loaded}
    result.expected = names
    return result


def service_scraped(client: PrometheusClient, service: str, label: str = "service") -> CheckResult:
    """At least one scrape target carries the service's label and every such target is up."""
    check = f"Prometheus scrapes {service}"
    query = f"up{{{matcher(label, service)}}}"
    try:
        answer = client.query(query)
    except PrometheusError as exc:
        return CheckResult.unknown(check, str(exc), "every target up")
    targets = {s.labels.get("instance", "?"): s.last.value for s in answer.series if s.last is not None}
    evidence = {"query": query, "targets": targets}
    if not targets:
        return CheckResult.fail(check, "no scrape target", "at least one target, every one up", evidence=evidence,
                                detail=f"no series for {query}: is the service deployed and labelled {label}?")
    down = sorted(instance for instance, value in targets.items() if value != 1)
    return CheckResult.judge(check, not down, {"up": len(targets) - len(down), "down": down},
                             "every target up", evidence=evidence)


def metric_reported(client: PrometheusClient, metric: str, service: str, label: str = "service") -> CheckResult:
    """The metric has at least one series for the service."""
    check = f"{metric} reported by {service}"
    query = f"count({{{matcher('__name__', metric)}, {matcher(label, service)}}})"
    try:
        answer = client.query(query)
    except PrometheusError as exc:
        return CheckResult.unknown(check, str(exc), "at least one series")
    count = int(answer.values()[0]) if answer.values() else 0
    return CheckResult.judge(check, count > 0, f"{count} series", "at least one series", evidence={"query": query})

