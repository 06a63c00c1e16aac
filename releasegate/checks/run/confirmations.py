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
Items match scenario names ignoring case, spacing and trailing punctuation. The file is read as
UTF-8 and parsed strictly (a repeated key is an error); an item confirmed twice is an error; names
and items are one printable line (``person_text``), ``at`` an ISO 8601 date and time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from releasegate.checks._support.files import load_yaml, read_text
from releasegate.checks.errors import ConfigError

MAX_TEXT = 300
"""The longest name or item text accepted."""


def person_text(value: str, what: str) -> str:
    """``value`` stripped, when it is what a person would type as a name or an item: one printable line.

    It goes into the sign-off's table and the journal: a line break would forge a row.
    """
    text = value.strip()
    if not text:
        raise ConfigError(f"{what}: empty; give a name, such as alice")
    if not text.isprintable():
        raise ConfigError(f"{what} {value!r}: line breaks, tabs and control characters are not allowed")
    if len(text) > MAX_TEXT:
        raise ConfigError(f"{what}: {len(text)} characters; at most {MAX_TEXT}")
    return text


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
        text = read_text(path, "confirmations file", missing_hint="create it or drop --confirmations")
        data, _ = load_yaml(text, path)
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
        first: dict[str, int] = {}
        for index, (item, entry) in enumerate(entries):
            label = f"{path}: entry {index + 1} ({item or 'no item'})"
            if not isinstance(entry, dict) or not item or not entry.get("by") or not entry.get("at"):
                raise ConfigError(f"{label}: every confirmation needs item, by and at (who confirmed it and when)")
            item = person_text(item, f"{label}: item")
            earlier = first.setdefault(normalize(item), index)
            if earlier != index:
                raise ConfigError(f"{label}: the item is confirmed again (first in entry {earlier + 1}); keep one")
            by = person_text(str(entry["by"]), f"{label}: by")
            self.add(Confirmation(item, by, _when(entry["at"], f"{label}: at"), str(path)))

    def add_option(self, text: str, now: datetime | None = None) -> None:
        item, sep, name = text.rpartition("=")
        if not sep or not item.strip() or not name.strip():
            raise ConfigError(
                f"--confirm {text!r}: expected \"ITEM TEXT=NAME\", e.g. --confirm \"Team notified=alice\""
            )
        when = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.add(Confirmation(person_text(item, "--confirm item"), person_text(name, "--confirm name"), when,
                              "--confirm"))


def _when(at: object, what: str) -> str:
    """The time of a confirmation, as written: a YAML timestamp or an ISO 8601 text."""
    if isinstance(at, (datetime, date)):
        return at.isoformat()
    try:
        datetime.fromisoformat(str(at))
    except ValueError:
        raise ConfigError(f"{what}: expected a date and time such as 2026-11-22T09:00:00Z, got {str(at)!r}") from None
    return str(at)
