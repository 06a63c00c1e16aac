"""Recorded confirmations of manual checklist items: who confirmed what, and when.

A confirmations file (YAML) is either a list or a mapping::

    confirmations:
      - item: Code review approved by at least 2 reviewers
        by: alice
        at: 2026-11-22T09:00:00Z
      - item: On-call engineer identified
        by: bob
        at: 2026-11-22T09:05:00Z

    # or
    Team notified: {by: carol, at: 2026-11-22T09:10:00Z}

``--confirm "ITEM=NAME"`` records one on the command line (``at`` is the time of the run).
Items match scenario names ignoring case, spacing and trailing punctuation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from releasegate.checks.errors import ConfigError


@dataclass(frozen=True)
class Confirmation:
    item: str
    by: str
    at: str
    source: str

    def describe(self) -> str:
        return f"confirmed by {self.by} at {self.at} ({self.source})"


def normalize(item: str) -> str:
    return re.sub(r"\s+", " ", item).strip().strip(".:;").lower()


class Confirmations:
    def __init__(self) -> None:
        self._items: dict[str, Confirmation] = {}

    def __len__(self) -> int:
        return len(self._items)

    def add(self, confirmation: Confirmation) -> None:
        self._items[normalize(confirmation.item)] = confirmation

    def find(self, item: str) -> Confirmation | None:
        return self._items.get(normalize(item))

    def load_file(self, path: Path) -> None:
        if not path.is_file():
            raise ConfigError(f"{path}: confirmations file does not exist; create it or drop --confirmations")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark else str(path)
            raise ConfigError(f"{where}: YAML syntax error in confirmations file") from None
        if isinstance(data, dict) and "confirmations" in data:
            data = data["confirmations"]
        entries: list[tuple[str, Any]]
        if isinstance(data, list):
            entries = [(str(e.get("item", "")) if isinstance(e, dict) else "", e) for e in data]
        elif isinstance(data, dict):
            entries = [(str(k), v) for k, v in data.items()]
        elif data is None:
            entries = []
        else:
            raise ConfigError(f"{path}: expected a list of {{item, by, at}} entries")
        for index, (item, entry) in enumerate(entries):
            if not isinstance(entry, dict) or not item or not entry.get("by") or not entry.get("at"):
                raise ConfigError(
                    f"{path}: entry {index + 1} ({item or 'no item'}): every confirmation needs item, by and at"
                    " (who confirmed it and when)"
                )
            at = entry["at"]
            when = at.isoformat() if isinstance(at, (datetime, date)) else str(at)
            self.add(Confirmation(item, str(entry["by"]), when, str(path)))

    def add_option(self, text: str, now: datetime | None = None) -> None:
        item, sep, name = text.rpartition("=")
        if not sep or not item.strip() or not name.strip():
            raise ConfigError(
                f"--confirm {text!r}: expected \"ITEM TEXT=NAME\", e.g. --confirm \"Team notified=alice\""
            )
        when = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.add(Confirmation(item.strip(), name.strip(), when, "--confirm"))
