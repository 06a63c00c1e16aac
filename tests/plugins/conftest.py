"""The ``release`` fixture: a throw-away release project (support/release_project.py) on pytester."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest
from support.database import db, pg  # noqa: F401  (fixtures: a real PostgreSQL, started only when used)
from support.release_project import RUNBOOK, STEPS, Release, feature


@pytest.fixture
def release(rg_project: Callable[..., pytest.Pytester]) -> Callable[..., Release]:
    def make(feature_text: str | None = None, runbook: str = RUNBOOK, extra_features: dict[str, str] | None = None,
             ) -> Release:
        pytester = rg_project(runbooks={"local": runbook},
                              features={"release": feature_text or feature(), **(extra_features or {})})
        (pytester.path / "local_steps.py").write_text(textwrap.dedent(STEPS.format(root=str(pytester.path))))
        conftest = pytester.path / "conftest.py"
        if "local_steps" not in conftest.read_text():
            conftest.write_text(conftest.read_text() + '\npytest_plugins.append("local_steps")\n')
        return Release(pytester)

    return make
