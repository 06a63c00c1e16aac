"""Root conftest: registers the releasegate plugins and every step module under steps/.

Every step definition is a fixture of a plugin module, so every feature file sees every step
without importing anything.
"""

from __future__ import annotations

import pkgutil

import steps

pytest_plugins = [
    "plugins.environment",
    "plugins.collection",
    "plugins.evidence",
    "plugins.stack",
    "plugins.redaction",
    "plugins.reporting",
    "plugins.safety",
    "plugins.rollback",
    "plugins.signoff",
    "plugins.targets",
    *sorted(f"steps.{m.name}" for m in pkgutil.iter_modules(steps.__path__) if not m.name.startswith("_")),
]
