"""SLO analysis on Prometheus: measure, assess and decide kept apart.

- ``prometheus``: the HTTP API client (``PrometheusClient``) and its error tree, PromQL text;
- ``timing``: ``Timing``, how a metric is measured (the one declaration of the timing fields);
- ``analysis``: the engine: a ``Metric`` measured by its timing, each measurement judged (and the real
  traffic it stands for, ``Traffic``), one verdict;
- ``metrics``: the built-in measurements (error rate, latency, ...) on the runbook's metric names,
  and the runbook's SLO analysis;
- ``phrases``: the grammar of the SLO step phrases (``Ask``);
- ``monitoring``: alert rules loaded, services scraped, metrics reported;
- ``judge``: the statistical canary judge (Kayenta's NetflixACAJudge), imported on use.
"""

from releasegate.checks.slo.analysis import Baseline, Condition, Metric, Traffic, analyse
from releasegate.checks.slo.metrics import (
    Schema,
    analyse_service,
    analysis_under_load,
    builtin,
    canary_metrics,
    compare,
    custom,
    during_load,
    measure,
    metric_for,
    runbook_metrics,
)
from releasegate.checks.slo.phrases import Ask, read
from releasegate.checks.slo.prometheus import PrometheusClient, PrometheusError, ProviderError, QueryRejected
from releasegate.checks.slo.timing import Timing

__all__ = [
    "Ask",
    "Baseline",
    "Condition",
    "Metric",
    "PrometheusClient",
    "PrometheusError",
    "ProviderError",
    "QueryRejected",
    "Schema",
    "Timing",
    "Traffic",
    "analyse",
    "analyse_service",
    "analysis_under_load",
    "builtin",
    "canary_metrics",
    "compare",
    "custom",
    "during_load",
    "measure",
    "metric_for",
    "read",
    "runbook_metrics",
]
