"""The statistical canary judge: Kayenta's NetflixACAJudge, reproduced from its source.

Each metric's experiment (canary) samples are compared with its control (baseline) samples by a
Mann-Whitney test with the Hodges-Lehmann shift and its 98% confidence interval, labelled Pass,
High, Low, Nodata, NodataFailMetric or Error; the labels are scored per group and weighted into
one score, classified Pass, Marginal or Fail by the ``pass`` and ``marginal`` thresholds.

- ``config``: ``JudgeConfig`` and ``MetricConfig`` (pydantic, Kayenta's defaults);
- ``judge(config, control, experiment)``: one ``Judgement`` (``results``: frozen, ``to_dict()``);
- ``classify`` one metric, ``score`` a list of metric results, ``run_verdict`` for several
  judgements of one canary (and ``interval_ok`` for each of them as it comes);
- ``mannwhitney``: the test itself (R's ``wilcox.test(conf.int = TRUE)``); ``stats``: the rest.
"""

from releasegate.checks.slo.judge.aca import Series, judge
from releasegate.checks.slo.judge.classifier import classify, preprocess
from releasegate.checks.slo.judge.config import (
    DEFAULT_GROUP,
    Direction,
    EffectSize,
    EffectSizeMeasure,
    JudgeConfig,
    MetricConfig,
    NanStrategy,
    Outliers,
)
from releasegate.checks.slo.judge.mannwhitney import MannWhitneyResult, mann_whitney, wilcoxon_diff
from releasegate.checks.slo.judge.results import (
    GroupScore,
    Judgement,
    MetricLabel,
    MetricResult,
    RunVerdict,
    Sample,
    ScoreLabel,
)
from releasegate.checks.slo.judge.scoring import classify_score, interval_ok, run_verdict, score

__all__ = [
    "DEFAULT_GROUP",
    "Direction",
    "EffectSize",
    "EffectSizeMeasure",
    "GroupScore",
    "JudgeConfig",
    "Judgement",
    "MannWhitneyResult",
    "MetricConfig",
    "MetricLabel",
    "MetricResult",
    "NanStrategy",
    "Outliers",
    "RunVerdict",
    "Sample",
    "ScoreLabel",
    "Series",
    "classify",
    "classify_score",
    "interval_ok",
    "judge",
    "mann_whitney",
    "preprocess",
    "run_verdict",
    "score",
    "wilcoxon_diff",
]
