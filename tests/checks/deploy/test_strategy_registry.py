"""Every strategy in the registry imports lazily, is named like its runbook name, and has a journal undo."""

from __future__ import annotations

import importlib
import subprocess
import sys
import typing

import pytest

from releasegate.checks.deploy import strategies
from releasegate.checks.deploy.strategies.base import UNDO
from releasegate.checks.errors import ConfigError
from releasegate.checks.run.rollback_plan import describe_action, resolve_action
from releasegate.checks.runbook.model import Deploy


@pytest.mark.parametrize("name", strategies.STRATEGIES)
def test_every_strategy_resolves_to_one_named_like_its_runbook_name(name: str) -> None:
    strategy = strategies.get_strategy(name)
    assert name == strategy.NAME
    assert callable(strategy.deploy) and callable(strategy.rollback)
    module = importlib.import_module(strategies.REGISTRY[name].partition(":")[0])
    assert module.__doc__, f"{module.__name__} says what the strategy does"


@pytest.mark.parametrize("name", strategies.STRATEGIES)
def test_the_undo_a_record_names_resolves_with_a_description(name: str) -> None:
    undo = UNDO.format(name=name.replace("-", "_"))
    assert resolve_action(undo) is getattr(strategies, undo.partition(":")[2])
    assert describe_action(undo) != undo  # --dry-run shows what the undo does


def test_the_runbook_names_exactly_the_registered_strategies() -> None:
    strategy_field = typing.get_args(Deploy.model_fields["strategy"].annotation)
    assert strategy_field == strategies.STRATEGIES


def test_strategies_are_imported_only_when_used() -> None:
    code = ("import sys, releasegate.checks.deploy.strategies;"
            " assert 'releasegate.checks.deploy.strategies.canary' not in sys.modules; print('lazy')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "lazy", done.stderr


def test_unknown_strategy_and_record_are_clear() -> None:
    with pytest.raises(ConfigError, match="unknown deploy strategy 'big-bang'; use one of: recreate, rolling"):
        strategies.get_strategy("big-bang")
    with pytest.raises(ConfigError, match="deployment record has unknown strategy 'big-bang'"):
        strategies.rollback({"strategy": "big-bang"})
