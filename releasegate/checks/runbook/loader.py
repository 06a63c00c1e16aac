"""Loading a runbook: ``runbooks/NAME.yaml`` read, ``${VAR}`` resolved, validated, every problem one line.

``load_runbook`` reads the file as UTF-8 and parses it strictly (``_support.files``: repeated keys
and alias bombs refused), resolves ``${VAR}`` and ``${VAR:-default}`` from the process environment
(and the runbook's ``env_files``), registers every value that comes from a secret for redaction,
and validates the result against ``model.Runbook``. Every problem is raised as a ``ConfigError``
whose message is one line naming the file, the line and the field.

A value that resolves to nothing (``${VAR:-}``, or a variable set to "") counts as not given: an
optional field is then unset, a field that needs a value is an error saying which variable was empty.
"""

from __future__ import annotations

import io
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values
from dotenv.variables import Literal, Variable, parse_variables
from pydantic import ValidationError

from releasegate.checks import secrets
from releasegate.checks._support.files import load_yaml, read_text
from releasegate.checks.errors import (
    ConfigError,
    MissingVariable,
    RunbookSchemaError,
    RunbookSyntaxError,
    UnknownEnvironment,
)
from releasegate.checks.runbook.model import Runbook

Where = tuple[str | int, ...]


def available_environments(runbook_dir: Path) -> list[str]:
    return sorted(p.stem for p in runbook_dir.glob("*.yaml"))


def runbook_path(runbook_dir: Path, env_name: str, source: str | None = None) -> Path:
    """``runbooks/NAME.yaml`` when NAME is one of the runbooks there: a name, never a path."""
    known = available_environments(runbook_dir)
    if env_name in known:
        return runbook_dir / f"{env_name}.yaml"
    if not env_name.strip():
        why = "the name is empty"
    elif "/" in env_name or "\\" in env_name or ".." in env_name or Path(env_name).is_absolute():
        why = f"an environment is the name of a runbook in {runbook_dir}, not a path"
    else:
        why = f"no {runbook_dir / (env_name + '.yaml')}"
    origin = f" (from {source})" if source else ""
    raise UnknownEnvironment(f"unknown environment {env_name!r}{origin}: {why};"
                             f" available environments: {', '.join(known) or 'none'}")


def load_runbook(
    path: Path,
    environ: Mapping[str, str] | None = None,
    *,
    release: str | None = None,
) -> Runbook:
    """Read, resolve and validate one runbook file; ``release`` (``--release``, checked by the caller) wins."""
    environ = dict(os.environ if environ is None else environ)
    text = read_text(path, "runbook")
    try:
        raw, node = load_yaml(text, path)
    except ConfigError as exc:
        raise RunbookSyntaxError(str(exc)) from None
    if not isinstance(raw, dict):
        raise RunbookSchemaError(f"{path}:1: expected a mapping of runbook settings at the top level")
    lines = _line_index(node)
    variables = _dotenv_variables(path, raw.get("env_files") or [], lines) | environ
    listed = raw.get("secrets")
    secret_names = {name for name in listed if isinstance(name, str)} if isinstance(listed, list) else set()
    emptied: dict[Where, str] = {}
    resolved = _resolve(raw, _Context(variables, secret_names, path, lines, emptied), ())
    if release is not None:
        if not isinstance(resolved.get("release"), dict):
            resolved["release"] = {}
        resolved["release"]["version"] = release
    resolved.setdefault("name", path.stem)
    try:
        runbook = Runbook.model_validate(resolved)
    except ValidationError as exc:
        raise RunbookSchemaError(_schema_message(exc, path, lines, emptied)) from None
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


@dataclass
class _Context:
    """What resolving one runbook needs; ``emptied`` collects the values that resolved to nothing."""

    variables: Mapping[str, str]
    secret_names: set[str]
    path: Path
    lines: dict[Where, int]
    emptied: dict[Where, str]

    def error(self, where: Where, text: str) -> MissingVariable:
        return MissingVariable(f"{self.path}:{_line(self.lines, where)}: {_dotted(where)} {text}")


def _resolve(value: Any, context: _Context, where: Where) -> Any:
    if isinstance(value, dict):
        return {k: _resolve(v, context, (*where, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, context, (*where, i)) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value
    parts: list[str] = []
    for atom in parse_variables(value):
        if isinstance(atom, Literal):
            if "${" in atom.value:
                raise context.error(where, f"has a malformed reference in {value!r}: write ${{NAME}} or"
                                           " ${NAME:-default}")
            parts.append(atom.value)
        elif isinstance(atom, Variable):
            resolved = _substitute(atom, value, context, where)
            parts.append(shlex.quote(resolved) if _is_shell_template(where) else resolved)
    resolved_value = "".join(parts)
    key = str(where[-1]) if where else ""
    if secrets.is_secret_name(key) and resolved_value != value:
        secrets.register(resolved_value)
    if not resolved_value:
        context.emptied[where] = value
        return None
    return resolved_value


SHELL_TEMPLATE_FIELDS = ("deploy_command", "version_command", "run")


def _is_shell_template(where: Where) -> bool:
    """A field a shell reads (a host target's commands, rollback and runbook commands): a ${VAR} in it is one word."""
    if len(where) == 2 and where[0] == "commands":  # commands: {name: "shell line"}
        return True
    return bool(where) and where[-1] in SHELL_TEMPLATE_FIELDS


def _substitute(atom: Variable, value: str, context: _Context, where: Where) -> str:
    name, default = atom.name, atom.default
    if not (name.isidentifier() and name.isascii()):
        raise context.error(where, f"refers to {'${' + name + '}'!r}, which is not a variable name (letters, digits,"
                                   " _; not starting with a digit)")
    if default is not None and "${" in default:
        raise context.error(where, f"has a nested reference in {value!r}; a default is plain text:"
                                   f" write ${{{name}:-some value}}")
    if name in context.variables:
        resolved = context.variables[name]
    elif default is not None:
        resolved = default
    else:
        raise context.error(where, f"needs environment variable {name}, which is not set;"
                                   f" export {name}=... or write ${{{name}:-default}}")
    if secrets.is_secret_name(name) or name in context.secret_names:
        secrets.register(resolved)
    return resolved


def _dotenv_variables(path: Path, env_files: Any, lines: dict[Where, int]) -> dict[str, str]:
    if not isinstance(env_files, list):
        return {}  # the schema reports it: env_files is a list of file names
    merged: dict[str, str] = {}
    for index, name in enumerate(env_files):
        if not isinstance(name, str):
            continue  # the schema reports it
        file = path.parent.parent / name  # an absolute name stays itself
        try:
            text = read_text(file, "dotenv file", missing_hint="create it or remove it from env_files")
        except ConfigError as exc:
            line = _line(lines, ("env_files", index))
            raise RunbookSchemaError(f"{path}:{line}: env_files[{index}]: {exc}") from None
        for key, value in dotenv_values(stream=io.StringIO(text)).items():
            if value is not None:
                merged[key] = value
                if secrets.is_secret_name(key):
                    secrets.register(value)
    return merged


def _line_index(node: yaml.Node | None) -> dict[Where, int]:
    """Map every path in the document to the line (1-based) where it starts."""
    index: dict[Where, int] = {}

    def walk(n: yaml.Node, where: Where) -> None:
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


def _line(lines: dict[Where, int], where: Where) -> int:
    while where and where not in lines:
        where = where[:-1]
    return lines.get(where, 1)


def _dotted(where: Where) -> str:
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _schema_message(exc: ValidationError, path: Path, lines: dict[Where, int], emptied: dict[Where, str]) -> str:
    error = exc.errors()[0]
    where = tuple(p for p in error["loc"] if isinstance(p, (str, int)))
    field = _dotted(where)
    got = error.get("input")
    kind = error["type"]
    empty = next((emptied[where[:n]] for n in range(len(where), 0, -1) if where[:n] in emptied), None)
    if got is None and empty is not None:
        text = (f"{field}: {empty!r} resolved to an empty value, and this field needs one;"
                " set the variable or give a default that is not empty")
    elif kind == "extra_forbidden":
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
    return secrets.redact(f"{path}:{_line(lines, where)}: {text}{suffix}")
