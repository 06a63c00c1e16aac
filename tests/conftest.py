"""Shared fixtures for releasegate's own tests."""

from __future__ import annotations

import textwrap
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def rg_project(pytester: pytest.Pytester) -> Callable[..., pytest.Pytester]:
    """A throw-away project that uses releasegate's real plugins and steps.

    Writes pyproject.toml (the repository's own pytest settings, pointed at the repository's
    code), the repository's conftest.py, and any runbooks / feature files / extra step modules
    given as keyword arguments (``runbooks={"local": "..."}``, ``features={"x": "..."}``).
    """

    def make(
        runbooks: dict[str, str] | None = None,
        features: dict[str, str] | None = None,
        steps: str | None = None,
        ini_extra: str = "",
    ) -> pytest.Pytester:
        settings = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
        markers = "\n".join(f"    {m!r}," for m in settings["markers"])
        addopts = ", ".join(repr(a) for a in settings["addopts"])
        pytester.makefile(
            ".toml",
            pyproject=f"""
[tool.pytest.ini_options]
pythonpath = [{str(REPO_ROOT)!r}, "."]
addopts = [{addopts}]
markers = [
{markers}
]
{ini_extra}
""",
        )
        conftest = (REPO_ROOT / "conftest.py").read_text()
        if steps is not None:
            conftest += '\npytest_plugins.append("local_steps")\n'
            pytester.makepyfile(local_steps=textwrap.dedent(steps))
        pytester.makeconftest(conftest)
        for name, text in (runbooks or {}).items():
            path = pytester.path / "runbooks" / f"{name}.yaml"
            path.parent.mkdir(exist_ok=True)
            path.write_text(textwrap.dedent(text))
        for name, text in (features or {}).items():
            path = pytester.path / "features" / f"{name}.feature"
            path.parent.mkdir(exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return pytester

    return make
