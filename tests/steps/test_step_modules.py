"""The steps package names every step module the root conftest loads."""

from __future__ import annotations

import pkgutil

from releasegate import steps


def test_steps_all_lists_every_step_module() -> None:
    modules = sorted(m.name for m in pkgutil.iter_modules(steps.__path__) if not m.name.startswith("_"))
    assert sorted(steps.__all__) == modules
