"""releasegate.plugins registers every plugin module and its hookspecs; plugins share no private helpers."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import pytest

import releasegate.plugins as plugins

HELPERS = {"hooks", "outcomes"}  # modules the plugins import, without hooks of their own


def test_every_plugin_module_is_registered_once() -> None:
    modules = {module.name for module in pkgutil.iter_modules(plugins.__path__)} - HELPERS
    listed = [name.removeprefix("releasegate.plugins.") for name in plugins.PLUGINS]
    assert sorted(listed) == sorted(modules)


def test_every_step_module_is_registered_by_the_plugin_itself() -> None:
    from releasegate import steps

    assert [name.removeprefix("releasegate.steps.") for name in plugins.STEP_MODULES] == sorted(steps.__all__)
    assert plugins.pytest_plugins == [*plugins.PLUGINS, *plugins.STEP_MODULES]


def test_the_hookspecs_are_registered() -> None:
    manager = pytest.PytestPluginManager()
    plugins.pytest_addhooks(manager)
    specs = {name for name in dir(manager.hook) if name.startswith("pytest_releasegate_")}
    assert specs == {name for name in dir(plugins.hooks) if name.startswith("pytest_releasegate_")}
    assert len(specs) == 7


def test_no_plugin_imports_another_plugins_private_names() -> None:
    found = []
    for path in Path(plugins.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("releasegate.plugins"):
                found += [f"{path.name}: {node.module}.{alias.name}" for alias in node.names
                          if alias.name.startswith("_")]
    assert found == []
