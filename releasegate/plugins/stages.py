"""Release stages of scenarios: which stage a scenario belongs to, and the order stages run in.

A scenario's stage is its stage tag (``@preflight`` ... ``@load``); pytest-bdd turns Gherkin tags
into markers. Shared by the rollback, safety and sign-off plugins; not a plugin itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pytest

from releasegate.plugins.collection import scenario_location

STAGES = ("preflight", "backup", "migrate", "deploy", "smoke", "slo", "load")
POST_ROLLBACK = "post-rollback"
DESTRUCTIVE = ("backup", "migrate", "deploy", "destructive")


@dataclass(frozen=True)
class ItemInfo:
    nodeid: str
    scenario: str
    stage: str | None
    critical: bool
    post_rollback: bool
    manual: bool
    destructive: bool
    preflight: bool

    @property
    def rank(self) -> int:
        if self.post_rollback:
            return len(STAGES) + 1
        return STAGES.index(self.stage) if self.stage else len(STAGES)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemInfo:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


def classify(item: pytest.Item) -> ItemInfo:
    names = {marker.name for marker in item.iter_markers()}
    location = scenario_location(item)
    return ItemInfo(
        nodeid=item.nodeid,
        scenario=location[2] if location else item.name,
        stage=next((stage for stage in STAGES if stage in names), None),
        critical="critical" in names,
        post_rollback=POST_ROLLBACK in names,
        manual="manual" in names,
        destructive=bool(names & set(DESTRUCTIVE)),
        preflight="preflight" in names,
    )


def has_stages(infos: list[ItemInfo]) -> bool:
    return any(info.stage or info.post_rollback for info in infos)


def release_order(items: list[pytest.Item], infos: dict[str, ItemInfo]) -> list[pytest.Item]:
    """Stage order (stable: file order within a stage), @post-rollback scenarios last."""
    return sorted(items, key=lambda item: infos[item.nodeid].rank)
