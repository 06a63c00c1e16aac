"""Loading a runbook: ``runbooks/NAME.yaml`` read, ``${VAR}`` resolved, validated, every problem one line.

``load_runbook`` resolves ``${VAR}`` and ``${VAR:-default}`` from the process environment (and
the runbook's ``env_files``), registers every value that comes from a secret for redaction, and
validates the result against ``model.Runbook``. Every problem is raised as a ``ConfigError``
whose message is one line naming the file, the line and the field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from releasegate.checks import secrets
from releasegate.checks.errors import MissingVariable, RunbookSchemaError, RunbookSyntaxError, UnknownEnvironment
from releasegate.checks.runbook.model import Runbook

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def available_environments(runbook_dir: Path) -> list[str]:
    return sorted(p.stem for p in runbook_dir.glob("*.yaml"))


def runbook_path(runbook_dir: Path, env_name: str) -> Path:
    path = runbook_dir / f"{env_name}.yaml"
    if not path.is_file():
        known = ", ".join(available_environments(runbook_dir)) or "none"
        raise UnknownEnvironment(f"unknown environment {env_name!r}: no {path}; available environments: {known}")
    return path


def load_runbook(
    path: Path,
    environ: Mapping[str, str] | None = None,
    *,
    release: str | None = None,
) -> Runbook:
    """Read, resolve and validate one runbook file."""
    environ = dict(os.environ if environ is None else environ)
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise RunbookSyntaxError(f"{where}: YAML syntax error: {exc.problem or exc}") from None
    if not isinstance(raw, dict):
        raise RunbookSchemaError(f"{path}:1: expected a mapping of runbook settings at the top level")
    lines = _line_index(node)
    variables = _dotenv_variables(path, raw.get("env_files") or [], lines) | environ
    secret_names = set(raw.get("secrets") or [])
    resolved = _resolve(raw, variables, secret_names, path, lines, ())
    if release:
        resolved.setdefault("release", {})
        if not isinstance(resolved["release"], dict):
            resolved["release"] = {}
        resolved["release"]["version"] = release
    resolved.setdefault("name", path.stem)
    try:
        runbook = Runbook.model_validate(resolved)
    except ValidationError as exc:
        raise RunbookSchemaError(_schema_message(exc, path, lines)) from None
    runbook.path = path
    if runbook.database is not None:
        secrets.register_many(secrets.url_passwords(runbook.database.dsn))
        if runbook.database.admin_dsn:
            secrets.register_many(secrets.url_passwords(runbook.database.admin_dsn))
        if runbook.database.scratch_dsn:
            secrets.register_many(secrets.url_passwords(runbook.database.scratch_dsn))
    if runbook.notifications.webhook_url:
        secrets.register(runbook.notifications.webhook_url)
    return runbook


def _resolve(
    value: Any,
    variables: Mapping[str, str],
    secret_names: set[str],
    path: Path,
    lines: dict[tuple[str | int, ...], int],
    where: tuple[str | int, ...],
) -> Any:
    if isinstance(value, dict):
        return {k: _resolve(v, variables, secret_names, path, lines, (*where, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, variables, secret_names, path, lines, (*where, i)) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    key = str(where[-1]) if where else ""

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group("name"), match.group("default")
        if name in variables:
            resolved = variables[name]
        elif default is not None:
            resolved = default
        else:
            raise MissingVariable(
                f"{path}:{_line(lines, where)}: {_dotted(where)} needs environment variable {name}, which is not set;"
                f" export {name}=... or write ${{{name}:-default}}"
            )
        if secrets.is_secret_name(name) or name in secret_names:
            secrets.register(resolved)
        return resolved

    resolved_value = _VARIABLE.sub(substitute, value)
    if secrets.is_secret_name(key) and resolved_value != value:
        secrets.register(resolved_value)
    return resolved_value


def _dotenv_variables(path: Path, env_files: list[Any], lines: dict[tuple[str | int, ...], int]) -> dict[str, str]:
    from dotenv import dotenv_values

    merged: dict[str, str] = {}
    for index, name in enumerate(env_files):
        file = (path.parent.parent / str(name)) if not Path(str(name)).is_absolute() else Path(str(name))
        if not file.is_file():
            raise RunbookSchemaError(
                f"{path}:{_line(lines, ('env_files', index))}: env_files[{index}]: {file} does not exist;"
                " create it or remove it from env_files"
            )
        for key, value in dotenv_values(file).items():
            if value is not None:
                merged[key] = value
                if secrets.is_secret_name(key):
                    secrets.register(value)
    return merged


def _line_index(node: yaml.Node | None) -> dict[tuple[str | int, ...], int]:
    """Map every path in the document to the line (1-based) where it starts."""
    index: dict[tuple[str | int, ...], int] = {}

    def walk(n: yaml.Node, where: tuple[str | int, ...]) -> None:
        index[where] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for key_node, value_node in n.value:
                walk(value_node, (*where, str(key_node.value)))
                index[(*where, str(key_node.value))] = key_node.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*where, i))

    if node is not None:
        walk(node, ())
    return index


def _line(lines: dict[tuple[str | int, ...], int], where: tuple[str | int, ...]) -> int:
    while where and where not in lines:
        where = where[:-1]
    return lines.get(where, 1)


def _dotted(where: tuple[str | int, ...]) -> str:
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _schema_message(exc: ValidationError, path: Path, lines: dict[tuple[str | int, ...], int]) -> str:
    error = exc.errors()[0]
    where = tuple(p for p in error["loc"] if isinstance(p, (str, int)))
    field = _dotted(where)
    got = error.get("input")
    kind = error["type"]
    if kind == "extra_forbidden":
        text = f"{field}: unknown field; check its spelling against the runbook reference in README.md"
    elif kind == "missing":
        text = f"{field}: required field is missing"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
        text = f"{field}: {message}"
        if kind != "value_error" and not isinstance(got, (dict, list)):
            text += f" (got {secrets.redact(repr(got))})"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{path}:{_line(lines, where)}: {text}{suffix}"
