"""Is monitoring in place? Alert rules loaded, every instance of a service scraped, a metric reported.

These answer the seeds' "monitoring alerts configured", "real-time monitoring active" and "metrics
collection" lines against the Prometheus of the runbook. A Prometheus that does not answer gives
INCONCLUSIVE, never PASS.
"""

from __future__ import annotations

from releasegate.checks.result import CheckResult, combine
from releasegate.checks.slo.prometheus import PrometheusClient, PrometheusError


def _selector(label: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{label}="{escaped}"'


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
    query = f"up{{{_selector(label, service)}}}"
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
    query = f"count({{__name__={_quoted(metric)}, {_selector(label, service)}}})"
    try:
        answer = client.query(query)
    except PrometheusError as exc:
        return CheckResult.unknown(check, str(exc), "at least one series")
    count = int(answer.values()[0]) if answer.values() else 0
    return CheckResult.judge(check, count > 0, f"{count} series", "at least one series", evidence={"query": query})


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
