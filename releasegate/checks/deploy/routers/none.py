"""``deploy.router.kind: none``: nothing to switch; traffic reaches the instances some other way.

The weights a strategy sets are only remembered (a Kubernetes Service, an external load balancer
or a single instance decide where requests go), so verifying them always agrees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from releasegate.checks.deploy.routers.base import RouterSettings


class NoRouter:
    NAME: ClassVar[str] = "none"

    def __init__(self) -> None:
        self._weights: dict[str, int] = {}

    @classmethod
    def from_settings(cls, settings: RouterSettings) -> NoRouter:
        return cls()

    def set_weights(self, weights: Mapping[str, int], colors: Mapping[str, str] | None = None, *,
                    restore: bool = False) -> dict[str, int]:
        self._weights = dict(weights)
        return self._weights

    def weights(self) -> dict[str, int]:
        return dict(self._weights)

    def verify_weights(self, weights: Mapping[str, int]) -> bool:
        return self._weights == dict(weights)

    def remove_managed_routes(self) -> None:
        self._weights = {}
