"""The interface every traffic router implements, its settings, and the registry that finds one by kind.

A strategy sends traffic to the addresses of a service's slots through a ``TrafficRouter``, the
narrow interface of Argo Rollouts' trafficrouting: set the weights (SetWeight), check that the
router runs with them (VerifyWeight), forget every managed route (RemoveManagedRoutes). Routers
live in one module each (``nginx``, ``none``) and are imported only when a runbook names their
kind. ``RouterSettings`` is where the router of one service keeps its config and listens: it is
JSON in every deployment record, so a rollback from the journal drives the same router.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from releasegate.checks.errors import ConfigError
from releasegate.checks.runbook.model import Router as RouterSpec
from releasegate.checks.runbook.model import Service
from releasegate.checks.runbook.options import NginxOptions

ROUTERS: dict[str, str] = {
    "nginx": "releasegate.checks.deploy.routers.nginx:Router",
    "none": "releasegate.checks.deploy.routers.none:NoRouter",
}
DEFAULT_ROOT = Path(".stack") / "nginx"
"""Where a router keeps its config when the runbook names no folder (relative to the project folder)."""
DEFAULT_SAMPLE_SIZE = 10
"""Requests a router sends through itself to prove a switch (``deploy.router.options.verify_sample``)."""


class RouterSettings(BaseModel):
    """The router of one service: its kind, where it listens, where its config lives, how a switch is proven."""

    model_config = ConfigDict(extra="ignore")

    kind: str = "nginx"
    listen: str | None = None
    root: str | None = None
    sample_size: int = DEFAULT_SAMPLE_SIZE
    sample_path: str = "/"

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class TrafficRouter(Protocol):
    """What a strategy needs from a router."""

    NAME: ClassVar[str]

    @classmethod
    def from_settings(cls, settings: RouterSettings) -> TrafficRouter: ...

    def set_weights(self, weights: Mapping[str, int], colors: Mapping[str, str] | None = None, *,
                    restore: bool = False) -> dict[str, int]:
        """Send traffic to ``weights`` (address -> relative weight, 0 = none); the weights it now runs with.

        ``restore``: a rollback's call, which may bring a router that is cleanly down back up."""
        ...

    def weights(self) -> dict[str, int]:
        """address -> weight the router runs with."""
        ...

    def verify_weights(self, weights: Mapping[str, int]) -> bool:
        """Does the router run with exactly these weights, and route by them?

        False when its configuration holds other weights; a router that can show more than its
        configuration (nginx: its processes, the generation it runs, a sample of requests) raises
        ``ReleaseGateError`` with one line when the router is down or routes elsewhere.
        """
        ...

    def remove_managed_routes(self) -> None:
        """Forget every address this router was given."""
        ...


def router_class(kind: str) -> type[TrafficRouter]:
    """The router class for a runbook ``deploy.router.kind``, imported on first use."""
    path = ROUTERS.get(kind)
    if path is None:
        raise ConfigError(f"unknown router kind {kind!r}; use one of: {', '.join(sorted(ROUTERS))}")
    module_name, _, class_name = path.partition(":")
    cls: type[TrafficRouter] = getattr(importlib.import_module(module_name), class_name)
    return cls


def make_router(settings: RouterSettings | Mapping[str, Any] | None) -> TrafficRouter:
    """The router these settings (or a record's ``router``) describe; no settings: no router."""
    if settings is None:
        settings = RouterSettings(kind="none")
    elif not isinstance(settings, RouterSettings):
        settings = RouterSettings.model_validate(dict(settings))
    return router_class(settings.kind).from_settings(settings)


def router_settings(spec: RouterSpec, service: Service, services: int = 1, base_dir: Path | None = None
                    ) -> RouterSettings:
    """Where the router of ``service`` keeps its config and listens (one router per service when several).

    ``listen``: the service's own entry, else the runbook's (one service), else the router URL's
    host:port (one service), else the service's base_url. ``root`` relative to the project folder.
    A switch is proven with ``verify_sample`` requests to the service's health path.
    """
    nginx = spec.options if isinstance(spec.options, NginxOptions) else NginxOptions()  # kind none: no options
    per_service = nginx.services.get(service.name)
    listen = (per_service.listen if per_service else None) or (nginx.listen if services == 1 else None)
    if not listen:
        url = spec.url if spec.url and services == 1 else service.base_url
        parts = urlsplit(url)
        host = parts.hostname or ""
        listen = f"[{host}]:{parts.port or 80}" if ":" in host else f"{host}:{parts.port or 80}"
    configured = (per_service.root if per_service else None) or nginx.root or nginx.config_dir
    root = Path(configured) if configured else DEFAULT_ROOT
    root = root if root.is_absolute() else (base_dir or Path.cwd()) / root
    if services > 1 and not (per_service and per_service.root):
        root = root / service.name  # one nginx per service, each with its own config folder
    return RouterSettings(kind=spec.kind, listen=listen, root=str(root), sample_size=nginx.verify_sample,
                          sample_path=service.health)
