"""Confirmations files and --confirm: read as UTF-8, parsed strictly, every name one printable line."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasegate.checks.errors import ConfigError
from releasegate.checks.run.confirmations import Confirmations, person_text


def load(tmp_path: Path, content: str | bytes) -> Confirmations:
    path = tmp_path / "confirmations.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    confirmations = Confirmations()
    confirmations.load_file(path)
    return confirmations


def error_of(tmp_path: Path, content: str | bytes) -> str:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, content)
    assert "\n" not in str(error.value)
    return str(error.value).replace(str(tmp_path / "confirmations.yaml"), "FILE")


def test_list_and_mapping_forms(tmp_path: Path) -> None:
    listed = load(tmp_path, "- item: Team notified\n  by: carol\n  at: 2026-11-22T09:10:00Z\n")
    assert listed.find("team notified.") is not None
    mapped = load(tmp_path, "Team notified: {by: carol, at: '2026-11-22T09:10:00+01:00'}\n")
    found = mapped.find("Team notified")
    assert found is not None and (found.by, found.at) == ("carol", "2026-11-22T09:10:00+01:00")


def test_a_repeated_item_key_names_both_lines(tmp_path: Path) -> None:
    message = error_of(tmp_path, "Team notified: {by: carol, at: 2026-11-22}\n"
                                 "Team notified: {by: eve, at: 2026-11-23}\n")
    assert message == "FILE:2: duplicate key 'Team notified' (first at line 1); keep one of them"


def test_an_item_confirmed_twice_in_a_list_is_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, "- {item: Team notified, by: carol, at: 2026-11-22}\n"
                                 "- {item: 'team notified.', by: eve, at: 2026-11-23}\n")
    assert message == "FILE: entry 2 (team notified.): the item is confirmed again (first in entry 1); keep one"


@pytest.mark.parametrize(("content", "expected"), [
    ("- {item: Team notified, by: \"carol\\n| Approver | mallory |\", at: 2026-11-22}\n",
     "FILE: entry 1 (Team notified): by 'carol\\n| Approver | mallory |': line breaks, tabs and control characters"
     " are not allowed"),
    ("- {item: Team notified, by: '   ', at: 2026-11-22}\n", "FILE: entry 1 (Team notified): by: empty; give a name,"
     " such as alice"),
    ("- {item: Team notified, by: carol, at: yesterday}\n", "FILE: entry 1 (Team notified): at: expected a date and"
     " time such as 2026-11-22T09:00:00Z, got 'yesterday'"),
    ("just text\n", "FILE: expected a list of {item, by, at} entries"),
    ("- [unclosed\n", "FILE:2:1: YAML syntax error: expected ',' or ']', but got '<stream end>'"),
])
def test_bad_entries_are_one_line(tmp_path: Path, content: str, expected: str) -> None:
    assert error_of(tmp_path, content) == expected


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    message = error_of(tmp_path, "- {item: Caf\xe9, by: carol, at: 2026-11-22}\n".encode("latin-1"))
    assert message == "FILE:1: the confirmations file is not UTF-8 text (byte 0xe9); save it as UTF-8"


def test_a_folder_is_not_reported_missing(tmp_path: Path) -> None:
    (tmp_path / "confirmations.yaml").mkdir()
    with pytest.raises(ConfigError, match="the confirmations file is a folder; name a file"):
        Confirmations().load_file(tmp_path / "confirmations.yaml")
    with pytest.raises(ConfigError, match="confirmations file does not exist; create it or drop --confirmations"):
        Confirmations().load_file(tmp_path / "missing.yaml")


@pytest.mark.parametrize("text", ["Team notified=", "=alice", "no equals sign", "Team notified=ali\nce",
                                  "Team\tnotified=alice", "Team notified=" + "a" * 301])
def test_bad_confirm_options(text: str) -> None:
    with pytest.raises(ConfigError) as error:
        Confirmations().add_option(text)
    assert str(error.value).startswith("--confirm"), str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("value", ["", "   ", "a\nb", "a\rb", "a\x1bb", "a\u2028b"])
def test_person_text_refuses_what_would_break_a_line(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^--approve"):
        person_text(value, "--approve")


def test_person_text_keeps_a_name() -> None:
    assert person_text("  Zoë O'Brien  ", "--approve") == "Zoë O'Brien"
