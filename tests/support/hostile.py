"""Values that would run a command if any shell read them as code: each one leaves its own marker file.

``values(folder)`` gives (value, marker) pairs for versions and names; ``PATH_PARTS`` are folder
or file names that do the same relative to the working directory. A test puts them where a
version, a service name or a path goes, then asserts ``left_behind(folder) == []``.
"""

from __future__ import annotations

from pathlib import Path

MARKER = "rg-marker-"

# {m} is the marker path: separators, substitutions, quotes that end a quoted word, newlines,
# redirections, a leading option, an escaped quote
FORMS = (
    "1.0; touch {m}",
    "1.0 && touch {m}",
    "1.0 || touch {m}",
    "1.0 | touch {m}",
    "1.0 & touch {m}",
    "$(touch {m})",
    "`touch {m}`",
    "${{IFS}}$(touch${{IFS}}{m})",
    "1.0' ; touch {m} ; echo '",
    '1.0" ; touch {m} ; echo "',
    "1.0'\"$(touch {m})\"'",
    "1.0\ntouch {m}",
    "1.0\r\ntouch {m}",
    "1.0 > {m}",
    "1.0 >>{m}",
    "<(touch {m})",
    "-o {m}",
    "\\'; touch {m}; #",
)

# names without "/": each touches a marker in the working directory if a shell reads it
PATH_PARTS = (
    f"a;touch {MARKER}semicolon",
    f"$(touch {MARKER}dollar)",
    f"`touch {MARKER}backtick`",
    f"q';touch {MARKER}quote;'",
    f'd";touch {MARKER}double;"',
    f"sp ace&touch {MARKER}amp",
    f"new\ntouch {MARKER}newline",
)


def values(folder: Path) -> list[tuple[str, Path]]:
    """One (hostile value, marker path) per form, the markers in ``folder`` (made here)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [(form.format(m=folder / f"{MARKER}{index}"), folder / f"{MARKER}{index}")
            for index, form in enumerate(FORMS)]


def names(folder: Path) -> list[tuple[str, Path]]:
    """The values of ``values`` a runbook accepts as a name (one printable line, no surrounding spaces);
    the others are refused when the runbook loads (see ``refused_names``)."""
    return [(value, marker) for value, marker in values(folder) if value.isprintable() and value == value.strip()]


def refused_names(folder: Path) -> list[str]:
    """The values of ``values`` that can never be a runbook name: line breaks and control characters."""
    accepted = {value for value, _ in names(folder)}
    return [value for value, _ in values(folder) if value not in accepted]


def hostile_folder(base: Path) -> Path:
    """A folder under ``base`` whose path has every shell metacharacter of ``PATH_PARTS`` (made here)."""
    folder = base.joinpath(*PATH_PARTS)
    folder.mkdir(parents=True)
    return folder


def left_behind(*folders: Path) -> list[str]:
    """The markers that exist anywhere under ``folders``: something executed a value."""
    return sorted(str(p) for folder in folders if folder.is_dir() for p in folder.rglob(f"{MARKER}*")
                  if p.is_file() and p.name.startswith(MARKER))
