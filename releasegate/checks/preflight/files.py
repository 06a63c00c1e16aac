"""Required files present, readable and parseable (YAML, JSON, TOML or dotenv, by extension).

Messages give the file, line and column of a syntax error but never the file's content, which
may hold secrets.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path

from releasegate.checks.result import CheckResult

FORMATS = ("YAML", "JSON", "TOML", "dotenv")


def format_of(path: Path) -> str | None:
    """The format a file's name implies, or None when it implies none we parse."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "YAML"
    if suffix == ".json":
        return "JSON"
    if suffix == ".toml":
        return "TOML"
    if path.name.startswith(".env") or suffix == ".env":
        return "dotenv"
    return None


def normalise_format(name: str) -> str:
    for known in FORMATS:
        if known.casefold() == name.strip().casefold():
            return known
    raise ValueError(f"unknown file format {name!r}: expected one of {', '.join(FORMATS)}")


def _yaml_problem(text: str) -> str | None:
    import yaml

    try:
        for _ in yaml.safe_load_all(text):
            pass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return f"{where}{exc.problem or exc.context or 'invalid YAML'}"
    except yaml.YAMLError as exc:
        return type(exc).__name__
    return None


def _json_problem(text: str) -> str | None:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
    return None


def _toml_problem(text: str) -> str | None:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return str(exc).split("\n")[0]
    return None


def _dotenv_problem(text: str) -> str | None:
    import io

    from dotenv.parser import parse_stream

    bad = [binding.original.line for binding in parse_stream(io.StringIO(text)) if binding.error]
    if bad:
        return f"line {bad[0]}: not a NAME=value line" + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
    return None


_PARSERS: dict[str, Callable[[str], str | None]] = {
    "YAML": _yaml_problem,
    "JSON": _json_problem,
    "TOML": _toml_problem,
    "dotenv": _dotenv_problem,
}


def check_file(path: Path, file_format: str | None = None) -> CheckResult:
    """``path`` is a readable file; it parses as ``file_format`` (default: implied by its name)."""
    kind = normalise_format(file_format) if file_format else format_of(path)
    name = f"file {path} exists" + (f" and is valid {kind}" if kind else "")
    expected = f"a readable {kind} file" if kind else "a readable file"
    if not path.exists():
        return CheckResult.fail(name, "missing", expected, detail=f"{path} does not exist")
    if not path.is_file():
        return CheckResult.fail(name, "not a regular file", expected, detail=f"{path} is not a regular file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        return CheckResult.fail(name, "unreadable", expected, detail=f"{path}: {exc.strerror or exc}")
    evidence = {"path": str(path.resolve()), "size_bytes": len(data)}
    if kind is None:
        return CheckResult.ok(name, "present", expected, evidence=evidence)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return CheckResult.fail(name, "not UTF-8 text", expected, detail=f"{path}: byte {exc.start} is not UTF-8",
                                evidence=evidence)
    problem = _PARSERS[kind](text)
    if problem is not None:
        return CheckResult.fail(name, f"invalid {kind}", expected, detail=f"{path}: {problem}", evidence=evidence)
    return CheckResult.ok(name, f"valid {kind}", expected, evidence=evidence)
