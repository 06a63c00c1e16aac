"""Collect .feature files directly: `pytest features/release.feature` runs its scenarios.

Each feature file becomes a module-like collector whose test functions are made with
pytest-bdd's ``scenario`` decorator, so pytest-bdd executes the steps, Scenario Outlines
are parametrized and tags become markers. Before any test runs, every step is matched
against the known step definitions and every tag against the registered markers, so a
typo is reported at collection as one line naming the file and line.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import exceptions as bdd_exceptions
from pytest_bdd.compat import get_fixture_names
from pytest_bdd.feature import get_feature
from pytest_bdd.parser import Feature, ScenarioTemplate, Step
from pytest_bdd.scenario import scenario as bdd_scenario
from pytest_bdd.scenario import scenario_wrapper_template_registry
from pytest_bdd.steps import StepFunctionContext

STEPDEF_PREFIX = "pytestbdd_stepdef_"
SCENARIO_KEY = "releasegate_scenario"
EXAMPLE_PARAM = "_pytest_bdd_example"  # pytest-bdd parametrizes an Outline's items with their Examples row


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("releasegate").addoption(
        "--list-steps",
        action="store_true",
        default=False,
        help="print every step phrase the features can use (Markdown table) and exit",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    if session.config.getoption("list_steps"):
        print("\n" + step_table(session))
        pytest.exit("step list printed", returncode=0)


def step_table(session: pytest.Session) -> str:
    """A Markdown table of every step phrase, grouped by module, for the README."""
    rows = []
    for context in _step_definitions(session):
        function = context.step_func
        if function.__module__.startswith("pytest_bdd"):
            continue
        module = function.__module__.replace(".", "/") + ".py"
        doc = (function.__doc__ or "").strip().splitlines()
        keyword = (context.type or "step").capitalize()
        phrase = context.parser.name.replace("|", "\\|")
        rows.append((module, keyword, phrase, doc[0] if doc else ""))
    order = {"Given": 0, "When": 1, "Then": 2, "Step": 3}
    rows.sort(key=lambda r: (r[0], order.get(r[1], 9), r[2]))
    lines = ["| module | keyword | phrase | what it checks or does |", "|---|---|---|---|"]
    lines += [f"| `{m}` | {k} | `{p}` | {d} |" for m, k, p, d in dict.fromkeys(rows)]
    return "\n".join(lines)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".feature":
        return FeatureFile.from_parent(parent, path=file_path)
    return None


class FeatureFile(pytest.Module):
    """A .feature file collected as if it were a test module of scenario functions."""

    def _getobj(self) -> types.ModuleType:
        feature = self._parse()
        self._validate(feature)
        module = types.ModuleType(f"feature_{_slug(self.path.stem)}")
        module.__file__ = str(self.path)
        seen: set[str] = set()
        for name, template in feature.scenarios.items():
            function_name = _unique(f"test_{_slug(name)}", seen)

            def _scenario_body() -> None:
                return None

            test = bdd_scenario(str(self.path), name, features_base_dir=str(self.path.parent))(_scenario_body)
            test.__name__ = function_name
            setattr(test, SCENARIO_KEY, (str(self.path), template.line_number, name))
            setattr(module, function_name, test)
        return module

    def _parse(self) -> Feature:
        try:
            return get_feature(str(self.path.parent), self.path.name)
        except bdd_exceptions.GherkinParseError as exc:
            raise self.CollectError(
                f"{self._where(exc.line)}: Gherkin syntax error: {exc.message.strip()}"
                f" (line: {exc.line_content.strip()!r})"
            ) from None

    def _validate(self, feature: Feature) -> None:
        known_tags = _registered_markers(self.config)
        stepdefs = list(_step_definitions(self))
        problems: list[str] = []
        for template in feature.scenarios.values():
            rule_tags = template.rule.tags if template.rule is not None else set()
            for tag in sorted(template.tags | feature.tags | rule_tags):
                if tag not in known_tags:
                    problems.append(
                        f"{self._where(template.line_number)}: unknown tag @{tag} on scenario {template.name!r};"
                        f" known tags: {', '.join(sorted(known_tags))}"
                    )
            for step in _rendered_steps(template):
                if not any(_matches(ctx, step.type, step.name) for ctx in stepdefs):
                    hint = _closest(step.name, stepdefs)
                    problems.append(
                        f"{self._where(step.line_number)}: no step definition for"
                        f" '{step.keyword.strip()} {step.name}' in scenario {template.name!r}"
                        + (f"; closest known step: '{hint}'" if hint else "")
                    )
        if problems:
            raise self.CollectError("\n".join(dict.fromkeys(problems)))

    def _where(self, line: int) -> str:
        try:
            path = self.path.relative_to(self.config.rootpath)
        except ValueError:
            path = self.path
        return f"{path}:{line}"


def _rendered_steps(template: ScenarioTemplate) -> Iterator[Any]:
    contexts = [context for examples in template.examples for context in examples.as_contexts()]
    if not contexts:
        yield from template.render({}).steps
        return
    for context in contexts:
        yield from template.render(context).steps


def _step_definitions(node: pytest.Collector | pytest.Session) -> Iterator[StepFunctionContext]:
    manager = node.session._fixturemanager
    for name in get_fixture_names(manager):  # pytest 9.2 keeps fixtures by node; this reads either layout
        if not name.startswith(STEPDEF_PREFIX):
            continue
        for fixturedef in manager.getfixturedefs(name, node) or ():
            context = fixturedef.func()
            if isinstance(context, StepFunctionContext):
                yield context


def _matches(context: StepFunctionContext, step_type: str, name: str) -> bool:
    return (context.type is None or context.type == step_type) and context.parser.is_matching(name)


def _closest(name: str, stepdefs: list[StepFunctionContext]) -> str | None:
    phrases = sorted({ctx.parser.name for ctx in stepdefs})
    plain = {re.sub(r"\{[^}]*\}", "X", p): p for p in phrases}
    found = difflib.get_close_matches(re.sub(r'"[^"]*"|\d+(\.\d+)?', "X", name), list(plain), n=1, cutoff=0.3)
    return plain[found[0]] if found else None


def _registered_markers(config: pytest.Config) -> set[str]:
    names = set()
    for line in config.getini("markers"):
        names.add(re.split(r"[:(]", line, maxsplit=1)[0].strip())
    return names


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower() or "scenario"


def _unique(name: str, seen: set[str]) -> str:
    candidate, index = name, 1
    while candidate in seen:
        index += 1
        candidate = f"{name}_{index}"
    seen.add(candidate)
    return candidate


def scenario_location(item: pytest.Item) -> tuple[str, int, str] | None:
    """(feature file, line, scenario name) of a collected scenario, or None for a plain test."""
    function = getattr(item, "function", None)
    return getattr(function, SCENARIO_KEY, None) if function is not None else None


def scenario_steps(item: pytest.Item) -> list[tuple[Step, list[StepFunctionContext]]] | None:
    """Each step of a scenario (Background included; of an Outline, the item's Examples row) with the step
    definitions that match it; None for a plain test."""
    function = getattr(item, "function", None)
    template = scenario_wrapper_template_registry.get(function) if function is not None else None
    parent = item.parent
    if template is None or parent is None or not isinstance(parent, pytest.Collector):
        return None
    callspec = getattr(item, "callspec", None)
    example = callspec.params.get(EXAMPLE_PARAM) if callspec is not None else None
    steps = template.render(example).steps if isinstance(example, dict) else list(_rendered_steps(template))
    stepdefs = list(_step_definitions(parent))
    return [(step, [ctx for ctx in stepdefs if _matches(ctx, step.type, step.name)]) for step in steps]
