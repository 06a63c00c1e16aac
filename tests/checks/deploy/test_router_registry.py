"""Every router in the registry imports lazily, is named like its kind, and speaks the TrafficRouter interface."""

from __future__ import annotations

import importlib
import typing
from pathlib import Path

import pytest

from releasegate.checks.deploy.routers import ROUTERS, RouterSettings, make_router, router_class, router_settings
from releasegate.checks.errors import ConfigError
from releasegate.checks.runbook.model import Router as RouterSpec
from releasegate.checks.runbook.model import Service
from releasegate.checks.runbook.options import ROUTER_OPTIONS

INTERFACE = ("set_weights", "weights", "verify_weights", "remove_managed_routes", "from_settings")


@pytest.mark.parametrize("kind", sorted(ROUTERS))
def test_every_router_resolves_to_a_class_named_like_its_kind(kind: str) -> None:
    cls = router_class(kind)
    assert kind == cls.NAME
    assert all(callable(getattr(cls, name, None)) for name in INTERFACE)
    module = importlib.import_module(ROUTERS[kind].partition(":")[0])
    assert module.__doc__


def test_the_runbook_kinds_are_the_registered_routers() -> None:
    assert sorted(typing.get_args(RouterSpec.model_fields["kind"].annotation)) == sorted(ROUTERS) == sorted(
        ROUTER_OPTIONS)


def test_no_router_remembers_and_verifies_weights() -> None:
    router = make_router({"kind": "none"})
    assert router.set_weights({"127.0.0.1:1": 100, "127.0.0.1:2": 0}) == {"127.0.0.1:1": 100, "127.0.0.1:2": 0}
    assert router.verify_weights({"127.0.0.1:1": 100, "127.0.0.1:2": 0})
    router.remove_managed_routes()
    assert router.weights() == {}
    assert type(make_router(None)).NAME == "none"


def test_settings_per_service_relative_to_the_project_folder(tmp_path: Path) -> None:
    api = Service(name="api", base_url="http://127.0.0.1:18191")
    web = Service(name="web", base_url="http://127.0.0.1:18192")
    spec = RouterSpec(url="http://127.0.0.1:8080", options={"config_dir": ".stack/nginx",
                                                             "services": {"web": {"root": "/srv/web"}}})
    assert router_settings(spec, api, 1, tmp_path) == RouterSettings(
        kind="nginx", listen="127.0.0.1:8080", root=str(tmp_path / ".stack/nginx"), sample_size=10,
        sample_path="/health")
    assert router_settings(spec, api, 2, tmp_path).as_dict() == {
        "kind": "nginx", "listen": "127.0.0.1:18191", "root": str(tmp_path / ".stack/nginx/api"),
        "sample_size": 10, "sample_path": "/health"}
    assert router_settings(spec, web, 2, tmp_path).root == "/srv/web"
    router = make_router(router_settings(spec, api, 1, tmp_path))
    assert type(router).NAME == "nginx" and router.url == "http://127.0.0.1:8080"  # type: ignore[attr-defined]


def test_an_ipv6_router_url_gives_a_bracketed_listen(tmp_path: Path) -> None:
    api = Service(name="api", base_url="http://[::1]:18191", health="/healthz")
    spec = RouterSpec(url="http://[::1]:8080", options={"verify_sample": 3})
    assert router_settings(spec, api, 1, tmp_path).model_dump(include={"listen", "sample_size", "sample_path"}) == {
        "listen": "[::1]:8080", "sample_size": 3, "sample_path": "/healthz"}


def test_unknown_router_kind_is_clear() -> None:
    with pytest.raises(ConfigError, match="unknown router kind 'traefik'; use one of: nginx, none"):
        router_class("traefik")
