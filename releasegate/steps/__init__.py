"""Step definitions, one module per domain; ``releasegate.plugins`` loads every module here not starting with
"_" as a plugin, so every feature file sees every step without importing anything.

Each step parses its phrase, calls one library function, records its undo and requires the result.
``_phrases`` holds the pytest-bdd parsers (``within_phrase``, ``slo_phrase``) and what steps share.
The modules are not imported here: pytest imports each as a plugin (assertion rewriting needs that).
"""

__all__ = ["database", "deploy", "http", "load", "manual", "migration_safety", "operations", "preflight", "release",
           "slo"]
