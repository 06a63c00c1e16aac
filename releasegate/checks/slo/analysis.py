"""SLO analysis on Prometheus: measurements over time with AnalysisRun-like semantics.

A ``Metric`` is a PromQL query measured by its ``Timing`` (``checks.slo.timing``): every
``interval_s``, ``count`` times (or for ``duration_s``: one measurement at the start and one every
interval until the duration has gone by), after ``initial_delay_s``. Each measurement is judged:

* ``failure`` holds -> FAILED; else ``success`` holds -> SUCCESSFUL; else FAILED when only a
  success condition is given, INCONCLUSIVE when both are given and neither holds, SUCCESSFUL
  when only a failure condition is given (Argo Rollouts' rules);
* an empty result or NaN is "no data", judged by the metric's ``no_data`` policy
  (``fail`` -> FAILED, ``inconclusive`` -> INCONCLUSIVE, ``pass`` -> SUCCESSFUL with a warning);
* a provider error (Prometheus down, timing out) is an ERROR: it is retried after
  ``error_retry_s``, never counts as a measurement, and more than ``consecutive_error_limit``
  errors in a row end the metric INCONCLUSIVE. A query Prometheus rejects ends it at once.

A metric with ``traffic`` (the built-in measurements of a service) also asks, with every
measurement, how much traffic the value stands for: real requests per second by endpoint (the
runbook's ``slo.real_traffic_selector``) beside all requests. Below ``traffic.min_rate`` real
requests per second the measurement is INCONCLUSIVE ("not enough traffic to judge: 0.2 req/s of
real traffic, need 1") whatever the value says: an error rate of 0% over the prober's health checks
is honest and meaningless. The traffic of every measurement is in the evidence.

The metric ends FAIL as soon as FAILED measurements exceed ``failure_limit``, INCONCLUSIVE
as soon as INCONCLUSIVE ones exceed ``inconclusive_limit``, PASS after ``consecutive_successes``
successes in a row when that is asked, else after all measurements (PASS only if at least one
measurement succeeded). Metrics of one analysis run side by side; the first FAIL of a metric
that is not a dry run stops the analysis. Dry-run metrics are measured and reported, never acted
on. The evidence carries the resolved query, window, every sample with its time, the thresholds,
the decision and the worst-case time to a verdict.
"""

from __future__ import annotations

import math
import operator
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from releasegate.checks.errors import ConfigError
from releasegate.checks.result import CheckResult, Outcome
from releasegate.checks.slo.prometheus import PrometheusError, QueryRejected, QueryResult, duration, escape
from releasegate.checks.slo.timing import Timing

Reduce = Literal["worst", "max", "min", "sum", "count"]
Unit = Literal["ratio", "seconds", "per_second", "count", ""]

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_CONDITION = re.compile(r"^\s*(?:result\s*)?(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
_PLACEHOLDER = re.compile(r"\{(service|version|window|baseline_version)\}")


class Phase(StrEnum):
    SUCCESSFUL = "successful"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


class QueryClient(Protocol):
    def query(self, promql: str, at: float | None = None) -> QueryResult: ...


@dataclass(frozen=True)
class Condition:
    """``value <op> threshold``, e.g. ``Condition("<", 0.01)``."""

    op: str
    threshold: float

    def __post_init__(self) -> None:
        if self.op not in _OPERATORS:
            raise ConfigError(f"unknown comparison {self.op!r}; use one of {' '.join(_OPERATORS)}")

    def holds(self, value: float) -> bool:
        return _OPERATORS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.op} {self.threshold:g}"

    @classmethod
    def parse(cls, text: str, where: str = "condition") -> Condition:
        """Read ``"< 0.01"`` or ``"result >= 0.995"``."""
        match = _CONDITION.match(text)
        if match is None:
            raise ConfigError(f"{where}: cannot read {text!r}; write a comparison such as '< 0.01' or '>= 0.995'")
        return cls(match.group(1), float(match.group(2)))


@dataclass(frozen=True)
class Baseline:
    """Judge the measured value against a baseline: another query (the previous version) or a recorded figure.

    The value passes when it is no worse than the baseline by more than ``tolerance`` (relative)
    plus ``min_delta`` (absolute, so that a baseline of 0 errors does not fail on one error).
    """

    tolerance: float
    description: str
    query: str | None = None
    value: float | None = None
    min_delta: float = 0.0
    higher_is_better: bool = False

    def __post_init__(self) -> None:
        if (self.query is None) == (self.value is None):
            raise ConfigError("a baseline needs exactly one of a query (previous version) or a recorded value")
        if self.tolerance < 0:
            raise ConfigError(f"a baseline tolerance must not be negative, got {self.tolerance}")

    def condition(self, baseline: float) -> Condition:
        if self.higher_is_better:
            return Condition(">=", baseline * (1 - self.tolerance) - self.min_delta)
        return Condition("<=", baseline * (1 + self.tolerance) + self.min_delta)


@dataclass(frozen=True)
class Traffic:
    """The traffic a metric judges: ``real`` and ``total`` are PromQL for requests per second by endpoint
    (real traffic only, and everything); fewer than ``min_rate`` real requests per second give no verdict."""

    real: str
    total: str
    min_rate: float
    selector: str
    endpoint_label: str = "path"

    def as_dict(self) -> dict[str, Any]:
        return {"real_query": self.real, "total_query": self.total, "min_request_rate": self.min_rate,
                "real_traffic_selector": self.selector, "endpoint_label": self.endpoint_label}


@dataclass
class Metric:
    name: str
    query: str
    success: Condition | None = None
    failure: Condition | None = None
    baseline: Baseline | None = None
    timing: Timing = field(default_factory=Timing)
    reduce: Reduce = "worst"
    empty_value: float | None = None
    window_s: float | None = None
    unit: Unit = ""
    traffic: Traffic | None = None
    note: str = ""

    def __post_init__(self) -> None:
        where = f"metric {self.name!r}"
        if self.success is None and self.failure is None and self.baseline is None:
            raise ConfigError(f"{where}: give a success or failure condition (e.g. success: '< 0.01')")
        problems = self.timing.problems()
        if problems:
            raise ConfigError(f"{where}: {problems[0]}")

    def worst_case_s(self, query_timeout_s: float) -> float:
        """The longest the metric can take to reach a verdict, with every query at its timeout."""
        timing = self.timing
        queries = 2 if self.baseline is not None and self.baseline.query is not None else 1
        queries += 2 if self.traffic is not None else 0
        per_query = queries * query_timeout_s
        retries = timing.consecutive_error_limit * (timing.error_retry_s + per_query)
        n = timing.planned
        return round(timing.initial_delay_s + n * (per_query + retries) + (n - 1) * timing.interval_s, 3)

    def conditions_text(self) -> str:
        parts = []
        if self.success is not None:
            parts.append(f"success {_format(self.success.threshold, self.unit, self.success.op)}")
        if self.failure is not None:
            parts.append(f"failure {_format(self.failure.threshold, self.unit, self.failure.op)}")
        if self.baseline is not None:
            word = "below" if self.baseline.higher_is_better else "above"
            parts.append(f"not more than {self.baseline.tolerance:.0%} {word} {self.baseline.description}")
        return ", ".join(parts)


@dataclass
class Measurement:
    at: float
    phase: Phase
    value: float | None = None
    no_data: bool = False
    condition: str = ""
    baseline_value: float | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    took_s: float = 0.0
    traffic: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "at": _iso(self.at),
            "phase": self.phase.value,
            "value": _json_number(self.value),
            "condition": self.condition,
        }
        if self.baseline_value is not None:
            data["baseline_value"] = _json_number(self.baseline_value)
        if self.no_data:
            data["no_data"] = True
        if self.message:
            data["message"] = self.message
        if self.traffic is not None:
            data["traffic"] = self.traffic
        data["samples"] = self.samples
        data["query_s"] = round(self.took_s, 3)
        return data


@dataclass
class MetricRun:
    metric: Metric
    next_due: float
    query: str
    baseline_query: str | None
    measurements: list[Measurement] = field(default_factory=list)
    outcome: Outcome | None = None
    reason: str = ""
    consecutive_errors: int = 0
    streak: int = 0
    ever_data: bool = False
    stopped: bool = False

    def count(self, phase: Phase) -> int:
        return sum(1 for m in self.measurements if m.phase is phase)

    @property
    def taken(self) -> int:
        return sum(1 for m in self.measurements if m.phase is not Phase.ERROR)

    @property
    def active(self) -> bool:
        return self.outcome is None and not self.stopped

    def finish(self, outcome: Outcome, reason: str) -> None:
        self.outcome, self.reason = outcome, reason


def resolve(template: str, *, service: str = "", version: str = "", window_s: float | None = None,
            baseline_version: str = "") -> str:
    """Fill ``{service}``, ``{version}``, ``{window}`` and ``{baseline_version}`` in a PromQL template.

    Other braces (label matchers) are left alone. Label values are escaped for PromQL strings.
    """
    values = {
        "service": escape(service),
        "version": escape(version),
        "baseline_version": escape(baseline_version),
        "window": duration(window_s) if window_s else "",
    }

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if not values[key]:
            raise ConfigError(f"query {template!r} uses {{{key}}} but no {key} was given")
        return values[key]

    return _PLACEHOLDER.sub(fill, template)


def analyse(
    client: QueryClient,
    metrics: list[Metric],
    *,
    name: str = "analysis",
    query_timeout_s: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    wall: Callable[[], float] = time.time,
) -> CheckResult:
    """Measure every metric until each has a verdict; one CheckResult for the analysis."""
    if not metrics:
        raise ConfigError(f"{name}: an analysis needs at least one metric")
    start, started_wall = clock(), wall()
    runs = [MetricRun(m, start + m.timing.initial_delay_s, m.query, m.baseline.query if m.baseline else None)
            for m in metrics]
    while True:
        active = [r for r in runs if r.active]
        if not active:
            break
        due = min(r.next_due for r in active)
        now = clock()
        if due > now:
            sleep(due - now)
        for run in active:
            if run.next_due <= clock() and run.active:
                _measure(client, run, clock, wall)
        failed = [r for r in runs if r.outcome is Outcome.FAIL and not r.metric.timing.dry_run]
        if failed:
            for run in runs:
                if run.active:
                    run.stopped = True
                    run.reason = f"stopped: {failed[0].metric.name!r} failed first"
            break
    elapsed = clock() - start
    return _result(name, runs, elapsed, started_wall, wall(), query_timeout_s)


def _measure(client: QueryClient, run: MetricRun, clock: Callable[[], float], wall: Callable[[], float]) -> None:
    timing = run.metric.timing
    began, began_wall = clock(), wall()
    try:
        result = client.query(run.query)
        baseline_result = client.query(run.baseline_query) if run.baseline_query else None
        traffic = run.metric.traffic
        seen = _traffic(traffic, client.query(traffic.real), client.query(traffic.total)) if traffic else None
    except QueryRejected as exc:
        run.measurements.append(Measurement(began_wall, Phase.ERROR, message=str(exc), took_s=clock() - began))
        run.finish(Outcome.INCONCLUSIVE, f"{exc}; fix the query")
        return
    except PrometheusError as exc:
        run.measurements.append(Measurement(began_wall, Phase.ERROR, message=str(exc), took_s=clock() - began))
        run.consecutive_errors += 1
        if run.consecutive_errors > timing.consecutive_error_limit:
            run.finish(
                Outcome.INCONCLUSIVE,
                f"{run.consecutive_errors} provider errors in a row (limit {timing.consecutive_error_limit}): {exc}",
            )
        else:
            run.next_due = clock() + timing.error_retry_s
        return
    run.consecutive_errors = 0
    measurement = _judge(run.metric, result, baseline_result, began_wall)
    if traffic is not None and seen is not None:
        measurement.traffic = seen
        if seen["real_rps"] < traffic.min_rate:
            # a value over too little real traffic says nothing, whichever way it points
            measurement.phase = Phase.INCONCLUSIVE
            measurement.message = (f"not enough traffic to judge: {seen['real_rps']:.3g} req/s of real traffic,"
                                   f" need {traffic.min_rate:g}")
    measurement.took_s = clock() - began
    run.measurements.append(measurement)
    run.ever_data = run.ever_data or not measurement.no_data
    run.streak = run.streak + 1 if measurement.phase is Phase.SUCCESSFUL else 0
    run.next_due = began + timing.interval_s
    _decide(run)


def _judge(metric: Metric, result: QueryResult, baseline_result: QueryResult | None, at: float) -> Measurement:
    samples = _samples(result)
    value = _reduce(metric, result)
    condition_success = metric.success
    baseline_value: float | None = None
    message = ""
    if metric.baseline is not None:
        if baseline_result is not None:
            samples += [dict(s, baseline=True) for s in _samples(baseline_result)]
            baseline_value = _reduce(metric, baseline_result)
        else:
            baseline_value = metric.baseline.value
        if baseline_value is None:
            value, message = None, f"{metric.baseline.description} has no data"
        else:
            condition_success = metric.baseline.condition(baseline_value)
    condition_text = ", ".join(
        f"{label} {c}" for label, c in (("success", condition_success), ("failure", metric.failure)) if c is not None
    )
    if value is None:
        no_data = metric.timing.no_data
        phase = {"fail": Phase.FAILED, "pass": Phase.SUCCESSFUL, "inconclusive": Phase.INCONCLUSIVE}[no_data]
        return Measurement(at, phase, None, True, condition_text, baseline_value, samples,
                           message or f"no data (no_data policy: {no_data})")
    if metric.failure is not None and metric.failure.holds(value):
        phase = Phase.FAILED
    elif condition_success is not None:
        if condition_success.holds(value):
            phase = Phase.SUCCESSFUL
        else:
            phase = Phase.INCONCLUSIVE if metric.failure is not None else Phase.FAILED
    else:
        phase = Phase.SUCCESSFUL
    return Measurement(at, phase, value, False, condition_text, baseline_value, samples)


def _traffic(traffic: Traffic, real: QueryResult, total: QueryResult) -> dict[str, Any]:
    """Requests per second by endpoint, real and synthetic (all minus real), of one measurement."""

    def by_endpoint(result: QueryResult) -> dict[str, float]:
        found: dict[str, float] = {}
        for series in result.series:
            if series.samples and not math.isnan(series.samples[-1].value):
                key = series.labels.get(traffic.endpoint_label, "")
                found[key] = found.get(key, 0.0) + series.samples[-1].value
        return found

    real_by, total_by = by_endpoint(real), by_endpoint(total)
    endpoints = [
        {"endpoint": name or "(no endpoint label)", "real_rps": round(real_by.get(name, 0.0), 3),
         "synthetic_rps": round(max(0.0, total_by.get(name, 0.0) - real_by.get(name, 0.0)), 3)}
        for name in sorted(set(real_by) | set(total_by))
    ]
    real_rps, total_rps = sum(real_by.values()), sum(total_by.values())
    return {"real_rps": round(real_rps, 3), "synthetic_rps": round(max(0.0, total_rps - real_rps), 3),
            "min_request_rate": traffic.min_rate, "by_endpoint": endpoints}


def _decide(run: MetricRun) -> None:
    timing = run.metric.timing
    failed, inconclusive = run.count(Phase.FAILED), run.count(Phase.INCONCLUSIVE)
    if failed > timing.failure_limit:
        run.finish(Outcome.FAIL, f"{failed} failed measurement(s), more than failure_limit {timing.failure_limit}")
    elif inconclusive > timing.inconclusive_limit:
        last = run.measurements[-1]
        why = last.message or "neither the success nor the failure condition held"
        run.finish(
            Outcome.INCONCLUSIVE,
            f"{inconclusive} inconclusive measurement(s), more than inconclusive_limit {timing.inconclusive_limit}"
            f" ({why})",
        )
    elif timing.consecutive_successes is not None and run.streak >= timing.consecutive_successes:
        run.finish(Outcome.PASS, f"{run.streak} consecutive successful measurements")
    elif run.taken >= timing.planned:
        successes = run.count(Phase.SUCCESSFUL)
        if timing.consecutive_successes is not None:
            run.finish(
                Outcome.INCONCLUSIVE,
                f"never {timing.consecutive_successes} consecutive successes in {run.taken} measurements",
            )
        elif successes == 0:
            run.finish(Outcome.INCONCLUSIVE, f"no successful measurement in {run.taken}")
        else:
            run.finish(
                Outcome.PASS,
                f"{successes} of {run.taken} measurements successful, {failed} failed"
                f" (failure_limit {timing.failure_limit})",
            )


def _reduce(metric: Metric, result: QueryResult) -> float | None:
    values = [v for v in result.values() if not math.isnan(v)]
    if metric.reduce == "count":
        return float(len(values)) if values or metric.empty_value is not None else None
    if not values:
        return metric.empty_value if result.empty else None
    how = metric.reduce
    if how == "worst":
        how = "max" if lower_is_better(metric) else "min"
    if how == "max":
        return max(values)
    if how == "min":
        return min(values)
    return sum(values)


def _samples(result: QueryResult) -> list[dict[str, Any]]:
    return [
        {"labels": s.labels, "time": _iso(p.time), "unix": p.time, "value": _json_number(p.value)}
        for s in result.series
        for p in s.samples
    ]


def _result(name: str, runs: list[MetricRun], elapsed: float, started: float, finished: float,
            query_timeout_s: float) -> CheckResult:
    acted = [r for r in runs if not r.metric.timing.dry_run]
    outcomes = {r.outcome for r in acted if r.outcome is not None}
    if Outcome.FAIL in outcomes:
        outcome = Outcome.FAIL
    elif Outcome.INCONCLUSIVE in outcomes or any(r.outcome is None for r in acted):
        outcome = Outcome.INCONCLUSIVE
    else:
        outcome = Outcome.PASS
    metrics_evidence = [_metric_evidence(r, query_timeout_s) for r in runs]
    warnings = [w for m in metrics_evidence for w in m["warnings"]]
    decisive = [r for r in acted if r.outcome is outcome] or acted
    detail = "; ".join(f"{r.metric.name}: {r.reason}" for r in decisive)
    shadow = [r for r in runs if r.metric.timing.dry_run]
    if shadow:
        detail += ("; " if detail else "") + "; ".join(
            f"dry run {r.metric.name}: {(r.outcome or 'unfinished')} ({r.reason}), not acted on" for r in shadow
        )
    if warnings:
        detail += "; warning: " + "; ".join(warnings)
    return CheckResult(
        name,
        outcome,
        observed={r.metric.name: _observed(r) for r in runs} if len(runs) > 1 else _observed(runs[0]),
        expected={r.metric.name: _expected(r) for r in runs} if len(runs) > 1 else _expected(runs[0]),
        detail=detail,
        attempts=sum(len(r.measurements) for r in runs),
        elapsed_s=round(elapsed, 3),
        evidence={
            "started_at": _iso(started),
            "finished_at": _iso(finished),
            "worst_case_s": max(r.metric.worst_case_s(query_timeout_s) for r in runs),
            "query_timeout_s": query_timeout_s,
            "warnings": warnings,
            "traffic": {r.metric.name: _traffic_summary(r, r.metric.traffic) for r in runs
                        if r.metric.traffic is not None},
            "metrics": metrics_evidence,
        },
    )


def _traffic_summary(run: MetricRun, traffic: Traffic) -> dict[str, Any]:
    """The traffic a metric judged: the lowest and the last real request rate, the last breakdown by endpoint."""
    seen = [m.traffic for m in run.measurements if m.traffic is not None]
    summary: dict[str, Any] = {"real_traffic_selector": traffic.selector, "min_request_rate": traffic.min_rate}
    if seen:
        summary |= {"lowest_real_rps": min(t["real_rps"] for t in seen), "last": seen[-1]}
    return summary


def _observed(run: MetricRun) -> str:
    values = [m.value for m in run.measurements if m.value is not None]
    counts = {p.value: run.count(p) for p in Phase if run.count(p)}
    summary = ", ".join(f"{n} {p}" for p, n in counts.items()) or "no measurement"
    if not values:
        return f"no data ({summary})"
    worst = _reduce_worst(run.metric, values)
    text = f"worst {_format(worst, run.metric.unit)}, last {_format(values[-1], run.metric.unit)} ({summary})"
    seen = [m.traffic for m in run.measurements if m.traffic is not None]
    if seen:
        text += (f" over {min(t['real_rps'] for t in seen):.3g}-{max(t['real_rps'] for t in seen):.3g} req/s of"
                 f" real traffic ({seen[-1]['synthetic_rps']:.3g} req/s synthetic left out)")
    return text


def _reduce_worst(metric: Metric, values: list[float]) -> float:
    return max(values) if lower_is_better(metric) else min(values)


def lower_is_better(metric: Metric) -> bool:
    """Which way a value of this metric gets worse (for the "worst" of several series or measurements)."""
    if metric.baseline is not None:
        return not metric.baseline.higher_is_better
    if metric.success is not None:
        return metric.success.op in ("<", "<=")
    if metric.failure is not None:
        return metric.failure.op in (">", ">=")
    return True


def _expected(run: MetricRun) -> str:
    timing = run.metric.timing
    text = run.metric.conditions_text()
    text += f" in {timing.planned} measurement(s) every {timing.interval_s:g}s"
    if timing.failure_limit:
        text += f", tolerating {timing.failure_limit} failure(s)"
    if timing.consecutive_successes:
        text += f", {timing.consecutive_successes} consecutive successes"
    if timing.dry_run:
        text += " (dry run)"
    return text


def _metric_evidence(run: MetricRun, query_timeout_s: float) -> dict[str, Any]:
    metric = run.metric
    warnings = []
    if not run.ever_data and run.taken:
        warnings.append(f"{metric.name}: the query never returned samples ({run.query})")
    if metric.note:
        warnings.append(f"{metric.name}: {metric.note}")
    if metric.timing.no_data == "pass" and any(m.no_data for m in run.measurements):
        warnings.append(f"{metric.name}: measurements without data were counted as successful (no_data: pass)")
    return {
        "name": metric.name,
        "query": run.query,
        "baseline_query": run.baseline_query,
        "baseline": None
        if metric.baseline is None
        else {
            "description": metric.baseline.description,
            "recorded_value": metric.baseline.value,
            "tolerance": metric.baseline.tolerance,
            "min_delta": metric.baseline.min_delta,
            "higher_is_better": metric.baseline.higher_is_better,
        },
        "window_s": metric.window_s,
        "traffic": metric.traffic.as_dict() if metric.traffic is not None else None,
        "success": str(metric.success) if metric.success else None,
        "failure": str(metric.failure) if metric.failure else None,
        **metric.timing.as_dict(),
        "planned_measurements": metric.timing.planned,
        "decision": (run.outcome.value if run.outcome else "stopped"),
        "acted_on": not metric.timing.dry_run,
        "reason": run.reason,
        "worst_case_s": metric.worst_case_s(query_timeout_s),
        "counts": {p.value: run.count(p) for p in Phase},
        "warnings": warnings,
        "measurements": [m.as_dict() for m in run.measurements],
    }


def _format(value: float, unit: str, op: str = "") -> str:
    prefix = f"{op} " if op else ""
    if math.isnan(value) or math.isinf(value):
        return f"{prefix}{value}"
    if unit == "ratio":
        return f"{prefix}{value * 100:.3g}%"
    if unit == "seconds":
        return f"{prefix}{value * 1000:.4g}ms" if abs(value) < 1 else f"{prefix}{value:.4g}s"
    if unit == "per_second":
        return f"{prefix}{value:.4g}/s"
    return f"{prefix}{value:g}"


def _iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_number(value: float | None) -> float | str | None:
    if value is None:
        return None
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return value
