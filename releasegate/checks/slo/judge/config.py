"""The judge's typed configuration, with NetflixACAJudge's defaults.

A metric's fields are Kayenta's ``analysisConfigurations.canary`` keys in snake case
(``mustHaveData`` is ``must_have_data``, ``nanStrategy`` is ``nan_strategy``, ``outliers.outlierFactor``
is ``outliers.factor``, ``effectSize.allowedIncrease`` is ``effect_size.allowed_increase``, ...).
Kayenta reads an unknown direction or strategy as its default; here it is refused, like every
unknown key. The query is kept as an opaque string: the judge never reads it.

Defaults that Kayenta does not have are marked where they are set: ``pass``/``marginal`` (Kayenta
requires both; 95 and 75 are the values of its example configuration and of Spinnaker's canary
stage), ``groups`` (Kayenta requires a list; a metric in no group counts in no group score, so
an empty list is refused) and ``noise_seed`` (Kayenta's noise is unseeded).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Direction = Literal["increase", "decrease", "either"]
NanStrategy = Literal["remove", "replace"]
EffectSizeMeasure = Literal["meanRatio", "cles"]

DEFAULT_GROUP = "default"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Outliers(_Model):
    """``outliers``: ``strategy: remove`` drops values outside IQRDetector's fences before the test."""

    strategy: Literal["keep", "remove"] = "keep"
    factor: float = Field(default=3.0, gt=0, description="Kayenta's outlierFactor: the fences are factor x IQR out")


class EffectSize(_Model):
    """``effect_size``: how big a significant change must be to count (Kayenta's ``effectSize``).

    With ``meanRatio`` (mean of the experiment over mean of the control) the limits default to 1.0,
    with ``cles`` (probability that an experiment value exceeds a control value) to 0.5: any
    significant change in the direction counts. High needs the effect size >= ``allowed_increase``,
    Low <= ``allowed_decrease``; a critical metric fails the whole judgement only when it is also
    >= ``critical_increase`` (High) or <= ``critical_decrease`` (Low).
    """

    measure: EffectSizeMeasure = "meanRatio"
    allowed_increase: float | None = None
    allowed_decrease: float | None = None
    critical_increase: float | None = None
    critical_decrease: float | None = None

    @property
    def default_limit(self) -> float:
        return 0.5 if self.measure == "cles" else 1.0

    @property
    def allowed(self) -> tuple[float, float]:
        """(decrease, increase), Kayenta's ``effectSizeThresholds``."""
        return (_or(self.allowed_decrease, self.default_limit), _or(self.allowed_increase, self.default_limit))

    @property
    def critical(self) -> tuple[float, float]:
        """(decrease, increase), Kayenta's ``criticalThresholds``."""
        return (_or(self.critical_decrease, self.default_limit), _or(self.critical_increase, self.default_limit))


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


class MetricConfig(_Model):
    """One metric the judge compares (Kayenta's ``CanaryMetricConfig`` with its canary analysis settings)."""

    name: str = Field(min_length=1)
    query: str | None = Field(default=None, description="how the samples are fetched; opaque to the judge")
    direction: Direction = "either"
    critical: bool = False
    must_have_data: bool = False
    muted: bool = False
    groups: tuple[str, ...] = Field(default=(DEFAULT_GROUP,), min_length=1)
    nan_strategy: NanStrategy = "remove"
    outliers: Outliers = Field(default_factory=Outliers)
    effect_size: EffectSize = Field(default_factory=EffectSize)

    @field_validator("groups", mode="before")
    @classmethod
    def _one_group(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @field_validator("groups")
    @classmethod
    def _named_groups(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not group for group in value):
            raise ValueError("a group name cannot be empty")
        return value


class JudgeConfig(_Model):
    """The whole judgement: its metrics, the group weights and the score thresholds."""

    metrics: tuple[MetricConfig, ...] = ()
    group_weights: dict[str, float] = Field(default_factory=dict)
    pass_: float = Field(default=95.0, alias="pass", ge=0, le=100, description="score >= pass is Pass")
    marginal: float = Field(default=75.0, ge=0, le=100, description="score >= marginal (and < pass) is Marginal")
    tolerance: float = Field(default=0.25, ge=0, description="NetflixACAJudge's fixed tolerance band, x |estimate|")
    confidence: float = Field(default=0.98, gt=0, lt=1, description="NetflixACAJudge's fixed confidence level")
    noise_seed: int = Field(default=0, description="seed of the noise added to two constant samples")

    @field_validator("group_weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        for group, weight in value.items():
            if weight < 0:
                raise ValueError(f"the weight of group {group!r} is negative ({weight}); weights are shares of 100")
        if sum(value.values()) > 100:
            raise ValueError(f"the group weights add up to {sum(value.values()):g}; they must total at most 100")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> JudgeConfig:
        if self.marginal > self.pass_:
            raise ValueError(f"marginal ({self.marginal:g}) is above pass ({self.pass_:g}); set marginal <= pass")
        names = [metric.name for metric in self.metrics]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"metric {repeated[0]!r} is listed more than once; give each metric one entry")
        groups = {group for metric in self.metrics for group in metric.groups}
        stray = [group for group in self.group_weights if self.metrics and group not in groups]
        if stray:
            raise ValueError(f"group_weights names group {stray[0]!r}, which no metric is in;"
                             f" known groups: {', '.join(sorted(groups))}")
        return self

    def metric(self, name: str) -> MetricConfig | None:
        return next((metric for metric in self.metrics if metric.name == name), None)

    def with_metrics(self, names: list[str]) -> JudgeConfig:
        """This configuration judging ``names`` with the default settings (when it lists no metrics)."""
        data = self.model_dump(by_alias=True)
        data["metrics"] = [{"name": name} for name in names]
        return JudgeConfig.model_validate(data)
