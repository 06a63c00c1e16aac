"""Every backend in the registry imports lazily, is a Target with the right NAME, and errors are clear."""

from __future__ import annotations

import importlib
import subprocess
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from releasegate.checks.deploy import strategies
from releasegate.checks.deploy.targets.base import BACKENDS, Target, backend_class, get_target
from releasegate.checks.errors import TargetError, UnknownTarget
from releasegate.checks.runbook.model import Service
from releasegate.checks.runbook.model import Target as TargetSpec
from releasegate.checks.runbook.options import TARGET_OPTIONS

SERVICES = [Service(name="demo-api", base_url="http://127.0.0.1:18199", image="releasegate-demo:1.0.0")]
REQUIRED: dict[str, dict[str, Any]] = {"compose": {"file": "docker-compose.yml"}}


@pytest.mark.parametrize("kind", sorted(BACKENDS))
def test_every_backend_resolves_to_a_target_named_like_its_kind(kind: str) -> None:
    cls = backend_class(kind)
    assert issubclass(cls, Target) and kind == cls.NAME
    assert not getattr(cls, "__abstractmethods__", None), f"{cls} leaves abstract methods"
    target = get_target(TargetSpec(name="t", kind=kind, options=REQUIRED.get(kind, {})), SERVICES)
    assert target.image_ref("demo-api", "1.1.0") == "releasegate-demo:1.1.0"
    assert isinstance(target.options, TARGET_OPTIONS[kind])  # the typed options of its kind
    module = importlib.import_module(BACKENDS[kind].partition(":")[0])
    assert module.__doc__ and "Runbook" in module.__doc__  # each backend documents its runbook options


def test_every_kind_with_options_has_a_backend() -> None:
    assert sorted(TARGET_OPTIONS) == sorted(BACKENDS)


def test_backends_are_imported_only_when_used() -> None:
    code = ("import sys, releasegate.checks.deploy.targets.base as b; assert 'kubernetes' not in sys.modules;"
            " assert 'releasegate.checks.deploy.targets.kubernetes' not in sys.modules; print('lazy')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "lazy", done.stderr


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ValidationError, match="kind 'nomad' \\(target 't'\\); use one of: compose, docker, host"):
        TargetSpec(name="t", kind="nomad")
    with pytest.raises(UnknownTarget, match="kind 'nomad'; use one of: compose, docker, host, kubernetes"):
        backend_class("nomad")


def test_unknown_service_and_unsupported_strategy_are_clear() -> None:
    target = get_target(TargetSpec(name="cluster", kind="kubernetes"), SERVICES)
    with pytest.raises(TargetError, match="knows no service 'web'"):
        target.service("web")
    assert target.slot_control() is None  # blue-green and canary need slots
    failed = strategies.deploy(target, "demo-api", "1.1.0", "blue-green")
    assert failed.result.failed and "needs a container target" in str(failed.result.observed)
    assert strategies.rollback(failed.record).passed  # the refused strategy changed nothing: nothing to undo
    with pytest.raises(Exception, match="unknown deploy strategy 'big-bang'"):
        strategies.deploy(target, "demo-api", "1.1.0", "big-bang")
