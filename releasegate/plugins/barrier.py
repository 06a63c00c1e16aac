"""Stages are barriers under xdist: no scenario of a stage starts before every earlier stage has finished.

In one process the stages plugin's order is enough. Under xdist each worker runs its share in that
order, but two workers would overlap: a migration could start on one while the backup still runs on
the other. So, on a worker, before a release scenario is set up (and before the halt check, so that
a critical failure met while waiting still skips it), this plugin waits until every selected
scenario of an earlier stage has a ``scenario_finished`` event in the run's journal (the controller
writes one for a scenario whose worker crashed), or the release is halted.

Every worker runs its items in the collection's (stage) order, so the earliest unfinished scenario
never waits and the wait cannot deadlock. ``@post-rollback`` scenarios have a gate of their own
(plugins/halt). A wait longer than the ini value ``releasegate_stage_barrier_timeout`` (seconds)
fails the scenario, naming what it waited for.
"""

from __future__ import annotations

import time
from collections.abc import Generator

import pytest

from releasegate.checks.run import decision
from releasegate.plugins.halt import HALT_LINE_KEY
from releasegate.plugins.journal import JOURNAL_KEY
from releasegate.plugins.stages import SCENARIOS_KEY

POLL_S = 0.05
DEFAULT_TIMEOUT_S = 3600.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("releasegate_stage_barrier_timeout",
                  "seconds a scenario waits under xdist for the earlier stages to finish",
                  default=str(DEFAULT_TIMEOUT_S))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    config = item.config
    if hasattr(config, "workerinput"):
        wait_for_earlier_stages(config, item)
    return (yield)


def wait_for_earlier_stages(config: pytest.Config, item: pytest.Item) -> None:
    journal = config.stash.get(JOURNAL_KEY, None)
    table = config.stash[SCENARIOS_KEY]
    info = table.of(item)
    if journal is None or info.post_rollback:
        return
    scenarios = table.all()
    if not decision.has_stages(scenarios):
        return
    earlier = {s.nodeid: s for s in scenarios if not s.post_rollback and s.rank < info.rank}
    if not earlier:
        return
    timeout = float(config.getini("releasegate_stage_barrier_timeout"))
    deadline = time.monotonic() + timeout
    line = config.stash[HALT_LINE_KEY]
    while True:
        finished = {str(e.get("nodeid")) for e in journal.events("scenario_finished")}
        waiting = [s for nodeid, s in earlier.items() if nodeid not in finished]
        if not waiting or line.current() is not None:
            return
        if time.monotonic() >= deadline:
            names = ", ".join(f"{s.scenario} ({s.group})" for s in waiting[:3])
            pytest.fail(f"stage barrier: waited {timeout:.0f}s for the earlier stages to finish; still running: "
                        f"{names}", pytrace=False)
        time.sleep(POLL_S)
