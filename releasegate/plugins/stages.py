"""Release stages: classify every scenario by its tags, and run a release in stage order.

A scenario's stage is its stage tag (``@preflight`` ... ``@load``; pytest-bdd turns Gherkin tags
into markers). In a release run the scenarios run in stage order (stable: file order within a
stage), scenarios without a stage next, ``@post-rollback`` scenarios last (the policy is
``checks.run.decision``).

``config.stash[SCENARIOS_KEY]`` is the run's ``ScenarioTable``. Under xdist the controller collects
nothing: the final selection (after -k/-m) is written to ``<run>.items.json`` beside the journal at
collection (the journal plugin makes the table a release run's with ``share_beside``), so that the
controller can classify every report, also a worker's crash report, which carries no markers. The
file also lists the scenarios of the collected files that the selection left out, for the verdict.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Generator
from pathlib import Path

import pytest

from releasegate.checks.run import decision
from releasegate.checks.run.decision import ScenarioInfo
from releasegate.checks.run.journal import Journal
from releasegate.plugins.collection import scenario_location

ITEMS_SUFFIX = ".items.json"


def classify(item: pytest.Item) -> ScenarioInfo:
    location = scenario_location(item)
    return decision.classify(item.nodeid, location[2] if location else item.name,
                             (marker.name for marker in item.iter_markers()))


class ScenarioTable:
    """Stage and tags of the scenarios of the run, by node id (also those a worker collected)."""

    def __init__(self) -> None:
        self._infos: dict[str, ScenarioInfo] = {}
        self._defined: dict[str, ScenarioInfo] = {}  # every item of the collected files, selected or not
        self._unselected: dict[str, ScenarioInfo] = {}
        self._items_file: Path | None = None
        self._complete = False  # the final selection is known here (collected here, or read from the file)

    def share_beside(self, journal: Journal) -> None:
        """Make this a release run's table, shared between processes through a file beside the journal."""
        self._items_file = journal.sidecar(ITEMS_SUFFIX)

    @property
    def release_run(self) -> bool:
        return self._items_file is not None

    def of(self, item: pytest.Item) -> ScenarioInfo:
        return self._infos.get(item.nodeid) or classify(item)

    def get(self, nodeid: str) -> ScenarioInfo | None:
        if nodeid not in self._infos and not self._complete:
            self._load()
        return self._infos.get(nodeid)

    def all(self) -> list[ScenarioInfo]:
        """Every scenario of the final selection (on the xdist controller: once a worker has collected)."""
        if not self._complete:
            self._load()
        return list(self._infos.values())

    def unselected(self) -> list[ScenarioInfo]:
        """Scenarios of the collected files that the selection left out (-k, -m, --deselect, node ids)."""
        if not self._complete:
            self._load()
        return list(self._unselected.values())

    # every collector's report (pytest_collectreport misses the files a node id on the command line names)
    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[None, pytest.CollectReport,
                                                                                    pytest.CollectReport]:
        report = yield
        if self.release_run and report.passed:
            items = [node for node in report.result if isinstance(node, pytest.Item)]
            self._defined.update((item.nodeid, classify(item)) for item in items)
        return report

    def remember(self, items: list[pytest.Item]) -> dict[str, ScenarioInfo]:
        self._infos = {item.nodeid: self.of(item) for item in items}
        return self._infos

    def publish(self, items: list[pytest.Item]) -> None:
        """Keep the final selection and write it beside the journal for the controller."""
        self.remember(items)
        self._unselected = {nodeid: info for nodeid, info in self._defined.items() if nodeid not in self._infos}
        self._complete = True
        if self._items_file is None:
            return
        temporary = self._items_file.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps({name: [info.as_dict() for info in infos.values()] for name, infos in
                                         (("selected", self._infos), ("unselected", self._unselected))}),
                             encoding="utf-8")
        os.replace(temporary, self._items_file)

    def _load(self) -> None:
        if self._items_file is None:
            return
        with contextlib.suppress(OSError, json.JSONDecodeError):
            shared = json.loads(self._items_file.read_text(encoding="utf-8"))
            for name, infos in (("selected", self._infos), ("unselected", self._unselected)):
                for data in shared[name]:
                    info = ScenarioInfo.from_dict(data)
                    infos.setdefault(info.nodeid, info)
            self._complete = True


SCENARIOS_KEY = pytest.StashKey[ScenarioTable]()


def pytest_configure(config: pytest.Config) -> None:
    table = ScenarioTable()
    config.stash[SCENARIOS_KEY] = table
    config.pluginmanager.register(table, "releasegate-scenarios")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    table = config.stash[SCENARIOS_KEY]
    if not table.release_run:  # pytest's order
        return
    infos = table.remember(items)
    if decision.has_stages(infos.values()):
        items[:] = sorted(items, key=lambda item: infos[item.nodeid].rank)


def pytest_collection_finish(session: pytest.Session) -> None:
    table = session.config.stash[SCENARIOS_KEY]
    if table.release_run:
        table.publish(session.items)
