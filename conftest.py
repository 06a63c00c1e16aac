"""Root conftest: registers releasegate's plugin (releasegate.plugins) and every step module under steps/.

Every step definition is a fixture of a plugin module, so every feature file sees every step
without importing anything.
"""

from __future__ import annotations

import pkgutil

from releasegate import steps

pytest_plugins = [
    "releasegate.plugins",
    *sorted(f"releasegate.steps.{m.name}" for m in pkgutil.iter_modules(steps.__path__) if not m.name.startswith("_")),
]
