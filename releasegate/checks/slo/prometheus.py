"""A small client for the Prometheus HTTP API (instant and range queries, alerts, rules), and PromQL text.

It speaks HTTP through ``checks._support.http`` (httpx). ``prometheus-api-client`` is not used:
it is built on requests (a second HTTP stack), returns only ``data.result`` (dropping the result
type, the warnings and the ``errorType`` that tells a rejected query from an unavailable
server) and has no rules or alerts endpoints, all of which this client needs.

Errors are drawn in two kinds, because an analysis treats them differently:

    CheckError
     +-- PrometheusError          anything that kept a query from giving an answer
          +-- ProviderError       Prometheus is down, timing out or overloaded: retry, never a pass
          +-- QueryRejected       Prometheus answered that the query itself is wrong: fix the query

Values come back as floats; Prometheus' "NaN" and "+Inf" are kept as float('nan') and
float('inf') so callers decide what they mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import httpx

from releasegate.checks import secrets
from releasegate.checks._support import http
from releasegate.checks.errors import CheckError


class PrometheusError(CheckError):
    """A query gave no answer."""


class ProviderError(PrometheusError):
    """Prometheus could not be reached, timed out or answered with a server error."""


class QueryRejected(PrometheusError):
    """Prometheus refused the query (bad PromQL, wrong types): retrying will not help."""


@dataclass(frozen=True)
class Sample:
    time: float
    value: float


@dataclass
class Series:
    labels: dict[str, str]
    samples: list[Sample] = field(default_factory=list)

    @property
    def last(self) -> Sample | None:
        return self.samples[-1] if self.samples else None


@dataclass
class QueryResult:
    query: str
    result_type: str
    series: list[Series]
    evaluated_at: float | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(s.samples for s in self.series)

    def values(self) -> list[float]:
        return [s.samples[-1].value for s in self.series if s.samples]


class PrometheusClient:
    """Instant and range queries against one Prometheus server."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        # no connection retries here: an analysis retries by its own policy (error_retry_s, consecutive_error_limit)
        self._http = http.client(timeout_s=timeout_s, retries=0)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, promql: str, at: float | None = None) -> QueryResult:
        """Evaluate ``promql`` at one instant (now unless ``at`` is given)."""
        params: dict[str, str] = {"query": promql, "timeout": f"{self.timeout_s:g}s"}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._get("/api/v1/query", params, promql)
        return _parse_result(promql, data)

    def query_range(self, promql: str, start: float, end: float, step_s: float) -> QueryResult:
        """Evaluate ``promql`` at every ``step_s`` from ``start`` to ``end`` (Unix seconds)."""
        params = {
            "query": promql,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{step_s:g}",
            "timeout": f"{self.timeout_s:g}s",
        }
        data = self._get("/api/v1/query_range", params, promql)
        return _parse_result(promql, data)

    def alerts(self) -> list[dict[str, Any]]:
        data = self._get("/api/v1/alerts", {}, "alerts")
        alerts = data.get("alerts", [])
        return alerts if isinstance(alerts, list) else []

    def alert_rules(self) -> list[str]:
        """Names of the alerting rules Prometheus has loaded."""
        data = self._get("/api/v1/rules", {"type": "alert"}, "rules")
        names: list[str] = []
        for group in data.get("groups", []) or []:
            for rule in group.get("rules", []) or []:
                if rule.get("type") == "alerting" and rule.get("name"):
                    names.append(str(rule["name"]))
        return names

    def ready(self) -> bool:
        try:
            return self._http.get(f"{self.url}/-/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def _get(self, path: str, params: dict[str, str], what: str) -> dict[str, Any]:
        where = secrets.redact(f"{self.url}{path}")
        try:
            response = self._http.get(f"{self.url}{path}", params=params)
        except httpx.TimeoutException:
            raise ProviderError(f"{where}: no answer within {self.timeout_s:g}s (Prometheus timing out)") from None
        except httpx.HTTPError as exc:
            reason = secrets.redact(str(exc) or type(exc).__name__)
            raise ProviderError(f"{where}: {type(exc).__name__}: {reason} (is Prometheus running?)") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if response.status_code >= 500 or response.status_code == 429:
                raise ProviderError(f"{where}: HTTP {response.status_code} from Prometheus")
            raise ProviderError(f"{where}: HTTP {response.status_code}, not a Prometheus API answer")
        if body.get("status") != "success":
            error = secrets.redact(str(body.get("error", "unknown error")))
            kind = str(body.get("errorType", ""))
            if response.status_code in (400, 422) or kind in ("bad_data", "execution"):
                raise QueryRejected(f"Prometheus rejected {what!r}: {kind}: {error}")
            raise ProviderError(f"{where}: HTTP {response.status_code} {kind}: {error}")
        data = body.get("data", {})
        result: dict[str, Any] = data if isinstance(data, dict) else {"alerts": data}
        if body.get("warnings"):
            result["_warnings"] = [str(w) for w in body["warnings"]]
        return result


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _parse_result(query: str, data: dict[str, Any]) -> QueryResult:
    kind = str(data.get("resultType", ""))
    raw = data.get("result")
    series: list[Series] = []
    evaluated_at: float | None = None
    if kind in ("scalar", "string") and isinstance(raw, list) and len(raw) == 2:
        evaluated_at = float(raw[0])
        series.append(Series({}, [Sample(float(raw[0]), _number(raw[1]))]))
    elif kind == "vector" and isinstance(raw, list):
        for item in raw:
            t, v = item["value"]
            evaluated_at = float(t)
            series.append(Series(dict(item.get("metric", {})), [Sample(float(t), _number(v))]))
    elif kind == "matrix" and isinstance(raw, list):
        for item in raw:
            samples = [Sample(float(t), _number(v)) for t, v in item.get("values", [])]
            series.append(Series(dict(item.get("metric", {})), samples))
    return QueryResult(query, kind, series, evaluated_at, list(data.get("_warnings", [])))


def duration(seconds: float) -> str:
    """A PromQL duration for ``seconds`` (``90`` -> ``"90s"``, ``1.5`` -> ``"1500ms"``)."""
    if seconds <= 0:
        raise ValueError(f"a PromQL window must be positive, got {seconds}")
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"


def escape(value: str) -> str:
    """``value`` as the inside of a PromQL string literal."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def matcher(label: str, value: str, op: str = "=") -> str:
    """A label matcher: ``service="demo-api"``."""
    return f'{label}{op}"{escape(value)}"'
