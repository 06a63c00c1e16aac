"""NetflixACAJudge: every metric classified, then scored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from releasegate.checks.slo.judge.classifier import classify
from releasegate.checks.slo.judge.config import JudgeConfig
from releasegate.checks.slo.judge.results import Judgement
from releasegate.checks.slo.judge.scoring import score

Series = Mapping[str, Sequence[float]]


def judge(config: JudgeConfig, control: Series, experiment: Series) -> Judgement:
    """Judge the experiment's samples against the control's, metric by metric.

    ``control`` and ``experiment`` map a metric's name to its samples (NaN for a missing sample).
    A metric of the configuration absent from a mapping has no data there. A configuration that
    lists no metrics judges every name either mapping has, with the default settings.
    """
    if not config.metrics:
        config = config.with_metrics(list(dict.fromkeys([*control, *experiment])))
    results = [classify(metric, control.get(metric.name, ()), experiment.get(metric.name, ()), config)
               for metric in config.metrics]
    return score(results, config)
