"""Collect .feature files directly: `pytest features/release.feature` runs its scenarios.

Each feature file becomes a module-like collector whose test functions are made with
pytest-bdd's ``scenario`` decorator, so pytest-bdd executes the steps, Scenario Outlines
are parametrized and tags become markers. Before any test runs, every step is matched
against the known step definitions and every tag against the registered markers, so a
typo is reported at collection as one line naming the file and line.

A feature file that would not run as it reads is a collection error too, one line per problem
(``structure_problems``): a file that cannot be read or is not UTF-8, no Feature, a Feature, Rule or
Scenario without scenarios or steps (a misspelt keyword turns a step into description text), two
scenarios with the same name (pytest-bdd keeps only the last), an outline whose Examples are
missing, empty, or lack a column one of its ``<placeholders>`` names (the step would run with the
literal ``<name>``). A collection error stops the run before any scenario starts, under xdist as
in one process (``CollectionGuard``), and the run exits 2.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gherkin.dialect import Dialect
from gherkin.errors import CompositeParserException
from gherkin.parser import Parser as GherkinParser
from pytest_bdd import exceptions as bdd_exceptions
from pytest_bdd import gherkin_parser as gherkin
from pytest_bdd.compat import get_fixture_names
from pytest_bdd.feature import features as bdd_features
from pytest_bdd.parser import PARAM_RE, Feature, FeatureParser, ScenarioTemplate, Step
from pytest_bdd.scenario import scenario as bdd_scenario
from pytest_bdd.scenario import scenario_wrapper_template_registry
from pytest_bdd.steps import StepFunctionContext

from releasegate.checks.run import decision
from releasegate.plugins.reporting import runs_features

STEPDEF_PREFIX = "pytestbdd_stepdef_"
SCENARIO_KEY = "releasegate_scenario"
EXAMPLE_PARAM = "_pytest_bdd_example"  # pytest-bdd parametrizes an Outline's items with their Examples row
ENCODING = "utf-8-sig"  # UTF-8, with or without the byte-order mark some editors write


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("releasegate").addoption(
        "--list-steps",
        action="store_true",
        default=False,
        help="print every step phrase the features can use (Markdown table) and exit",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    # refused here, before any plugin is configured: a refused run touches no earlier record
    if config.option.continue_on_collection_errors and runs_features(config):
        raise pytest.UsageError(
            "--continue-on-collection-errors: a release runs only when every feature file is collected;"
            " fix the collection errors instead")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(CollectionGuard(config), "releasegate-collection-guard")


class CollectionGuard:
    """A collection error stops the run before any scenario starts, in every process, and the run exits 2.

    Without xdist pytest does that itself. An xdist worker runs its own test loop, which runs what it
    collected despite the errors, and the controller ends with the status of a failed test (1): the
    worker runs nothing instead, and the controller ends as pytest does in one process.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.worker = hasattr(config, "workerinput")
        self.errors: list[str] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(report.nodeid)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.errors and self.worker:
            session.items[:] = []  # before xdist sends the worker's collection to the controller

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # tryfirst: the summary and the sign-off read the status after this
        if self.errors and not self.worker and session.exitstatus == pytest.ExitCode.TESTS_FAILED:
            session.exitstatus = pytest.ExitCode.INTERRUPTED


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


@pytest.hookimpl(tryfirst=True)
def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    # pytest's folder walk skips what is not a regular file: a broken link to a checklist would vanish
    if _unreadable_features(path):
        return UnreadableFeatures.from_parent(parent, path=path)
    return None


def _unreadable_features(folder: Path) -> dict[Path, str]:
    """The folder's ``*.feature`` entries that are neither files nor folders, with why."""
    found = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.endswith(".feature"):
                continue
            try:
                mode = os.stat(entry.path).st_mode
            except OSError as exc:  # a link to nothing, a loop of links
                found[Path(entry.path)] = f"a broken link ({exc.strerror})"
                continue
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                found[Path(entry.path)] = "not a regular file"
    return found


class UnreadableFeatures(pytest.Directory):
    """A folder holding a feature file that cannot be read: a collection error naming each one."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        problems = [f"{_relative(self.config, path)}: cannot read the feature file: {why}"
                    for path, why in sorted(_unreadable_features(self.path).items())]
        raise self.CollectError("\n".join(problems))


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

            test = bdd_scenario(str(self.path), name, encoding=ENCODING,
                                features_base_dir=str(self.path.parent))(_scenario_body)
            test.__name__ = function_name
            setattr(test, SCENARIO_KEY, (str(self.path), template.line_number, name))
            setattr(module, function_name, test)
        return module

    def _parse(self) -> Feature:
        """Read the file once, parse it once, and hand pytest-bdd that parse (its feature cache)."""
        text = self._read()
        if not any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()):
            raise self.CollectError(f"{self._where(1)}: no Feature: the file is empty or only comments;"
                                    " write 'Feature:' and its scenarios, or delete the file")
        try:
            document = _gherkin_document(str(self.path), text)
        except bdd_exceptions.GherkinParseError as exc:
            raise self.CollectError(
                f"{self._where(exc.line)}: Gherkin syntax error: {' '.join(exc.message.split())}"
                f" (line: {exc.line_content.strip()!r})"
            ) from None
        problems = [f"{self._where(line)}: {message}"
                    for line, message in sorted(structure_problems(document.feature), key=lambda p: p[0])]
        if problems:
            raise self.CollectError("\n".join(problems))
        feature = _ParsedFeature(str(self.path.parent), self.path.name, document).parse()
        bdd_features[os.path.abspath(self.path)] = feature  # what bdd_scenario's get_feature looks up
        return feature

    def _read(self) -> str:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise self.CollectError(f"{self._where()}: cannot read the feature file: {exc.strerror or exc}") from None
        try:
            return data.decode(ENCODING)
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            column = len(data[data.rfind(b"\n", 0, exc.start) + 1:exc.start].decode(ENCODING)) + 1
            raise self.CollectError(f"{self._where(line)}: not UTF-8 (byte 0x{data[exc.start]:02x} at column {column});"
                                    " save the feature file as UTF-8") from None

    def _validate(self, feature: Feature) -> None:
        known_tags = _registered_markers(self.config)
        stepdefs = list(_step_definitions(self))
        problems: list[str] = []
        for template in feature.scenarios.values():
            rule_tags = template.rule.tags if template.rule is not None else set()
            examples_tags = {tag for examples in template.examples for tag in examples.tags}
            for tag in sorted(template.tags | feature.tags | rule_tags | examples_tags):
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

    def _where(self, line: int | None = None) -> str:
        path = _relative(self.config, self.path)
        return f"{path}:{line}" if line is not None else str(path)


class _ParsedFeature(FeatureParser):
    """pytest-bdd's feature parser, given the document already parsed from the text releasegate read."""

    def __init__(self, basedir: str, filename: str, document: gherkin.GherkinDocument) -> None:
        super().__init__(basedir, filename, ENCODING)
        self._document = document

    def _parse_feature_file(self) -> gherkin.GherkinDocument:
        return self._document


def _gherkin_document(filename: str, text: str) -> gherkin.GherkinDocument:
    """The Gherkin document of ``text``; syntax errors as pytest-bdd's ``GherkinParseError`` (with its wording)."""
    try:
        return gherkin.GherkinDocument.from_dict(GherkinParser().parse(text))
    except CompositeParserException as exc:
        line = exc.errors[0].location["line"]
        lines = text.splitlines()
        content = lines[line - 1] if 0 < line <= len(lines) else ""
        gherkin.handle_gherkin_parser_error(exc.args[0], line, content, filename, exc)
        raise bdd_exceptions.GherkinParseError(f"Unknown parsing error: {exc.args[0]}", line, content,
                                               filename) from exc


def _relative(config: pytest.Config, path: Path) -> Path:
    try:
        return path.relative_to(config.rootpath)
    except ValueError:
        return path


def structure_problems(feature: gherkin.Feature) -> Iterator[tuple[int, str]]:
    """(line, message) for each part of a parsed feature that would not run as it reads."""
    scenarios = list(_scenarios(feature))
    if not scenarios:
        yield feature.location.line, (f"Feature {feature.name!r} has no scenarios (a misspelt 'Scenario:' is read"
                                      " as description); write its scenarios")
    first: dict[str, int] = {}
    dialect = Dialect.for_name(feature.language)
    outline_keywords = set(dialect.scenario_outline_keywords if dialect else ())
    for scenario, background, tags in scenarios:
        line = scenario.location.line
        if scenario.name in first:
            yield line, (f"scenario {scenario.name!r} has the same name as the scenario at line {first[scenario.name]};"
                         " pytest-bdd would run only one of them: give each scenario its own name")
        first.setdefault(scenario.name, line)
        if not decision.classify("", scenario.name, tags).manual:  # a @manual item is confirmed, not run
            yield from _no_steps(f"scenario {scenario.name!r}", line, scenario.steps, scenario.description)
        yield from _examples_problems(scenario, background, outline=scenario.keyword in outline_keywords)
    rules = [child.rule for child in feature.children if child.rule is not None]
    for rule in rules:
        if not any(child.scenario for child in rule.children):
            yield rule.location.line, f"Rule {rule.name!r} has no scenarios; write its scenarios"
    for child in feature.children + [child for rule in rules for child in rule.children]:
        if (found := child.background) is not None:
            yield from _no_steps("the Background", found.location.line, found.steps, found.description)


def _scenarios(feature: gherkin.Feature) -> Iterator[tuple[gherkin.Scenario, list[gherkin.Step], set[str]]]:
    """Every scenario of the feature (also inside rules), the background steps that run before it, its tags."""
    background = [step for child in feature.children if child.background for step in child.background.steps]
    for child in feature.children:
        if child.scenario is not None:
            yield child.scenario, background, _tag_names(feature.tags, child.scenario.tags)
        if child.rule is not None:
            rule_background = [step for c in child.rule.children if c.background for step in c.background.steps]
            for grandchild in child.rule.children:
                if grandchild.scenario is not None:
                    yield (grandchild.scenario, background + rule_background,
                           _tag_names(feature.tags, child.rule.tags, grandchild.scenario.tags))


def _tag_names(*tags: list[gherkin.Tag]) -> set[str]:
    return {tag.name.lstrip("@") for group in tags for tag in group}


def _no_steps(what: str, line: int, steps: list[gherkin.Step], description: str) -> Iterator[tuple[int, str]]:
    if steps:
        return
    text = description.strip().splitlines()
    read_as = f"; the line {text[0].strip()!r} is read as its description: is its keyword misspelt?" if text else ""
    yield line, f"{what} has no steps{read_as}"


def _examples_problems(scenario: gherkin.Scenario, background: list[gherkin.Step], *,
                       outline: bool) -> Iterator[tuple[int, str]]:
    name = repr(scenario.name)
    if not scenario.examples:
        if outline:
            yield scenario.location.line, (f"Scenario Outline {name} has no Examples; add an Examples table"
                                           " (a header row, then a row per case), or write 'Scenario:'")
        return
    used = [(step, placeholder) for step in background + scenario.steps for placeholder in _placeholders(step)]
    for examples in scenario.examples:
        line = examples.location.line
        if examples.table_header is None:
            yield line, f"the Examples of scenario {name} have no table; add a header row, then a row per case"
            continue
        columns = [cell.value for cell in examples.table_header.cells]
        for column in sorted({column for column in columns if columns.count(column) > 1}):
            yield line, f"the Examples of scenario {name} have the column {column!r} twice"
        if not examples.table_body:
            yield line, (f"the Examples of scenario {name} have no rows below the header, so the scenario would"
                         " never run; add a row per case")
        for step, placeholder in used:
            if placeholder not in columns:
                yield step.location.line, (
                    f"step '{step.keyword} {step.text}' of scenario {name} uses <{placeholder}>, which the Examples"
                    f" at line {line} do not define (columns: {', '.join(columns)}); add the column or fix the name")


def _placeholders(step: gherkin.Step) -> list[str]:
    """The ``<name>`` placeholders of a step's text, doc string and data table, in order, once each."""
    texts = [step.text, step.docstring.content if step.docstring else ""]
    texts += [cell.value for row in (step.datatable.rows if step.datatable else []) for cell in row.cells]
    found = [match.group(1) for text in texts for match in PARAM_RE.finditer(text)]
    # Examples cells are trimmed: a name with surrounding space ("a < b > c") can never be a column
    return list(dict.fromkeys(name for name in found if name == name.strip()))


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
