"""The runbook: one YAML file per environment, validated against a typed schema.

``load_runbook`` reads ``runbooks/NAME.yaml``, resolves ``${VAR}`` and ``${VAR:-default}``
from the process environment (and the runbook's ``env_files``), registers every value that
comes from a secret for redaction, and validates the result. Every problem is raised as a
``ConfigError`` whose message is one line naming the file, the line and the field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, overload

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from releasegate.checks import secrets
from releasegate.checks.errors import (
    MissingVariable,
    NotInRunbook,
    RunbookSchemaError,
    RunbookSyntaxError,
    UnknownEnvironment,
)
from releasegate.checks.runbook import options as typed
from releasegate.checks.runbook.stack import StackSection

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Release(_Model):
    version: str | None = None
    previous_version: str | None = None


class Service(_Model):
    name: str
    base_url: str
    health: str = "/health"
    readiness: str | None = "/ready"
    version_endpoint: str | None = "/version"
    version_field: str = "version"
    expected_version: str | None = None
    image: str | None = None
    port: int = Field(default=8000, ge=1, le=65535)
    instances: int = Field(default=1, ge=1)
    env: dict[str, str] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"expected an http(s) URL such as http://127.0.0.1:8080, got {value!r}")
        return value.rstrip("/")


class Target(_Model, typed.OptionsOfKind):
    OPTIONS_BY_KIND = typed.TARGET_OPTIONS

    name: str
    kind: str = Field(description="docker, compose, kubernetes or host")
    url: str | None = None
    options: typed.TargetOptions = Field(default=None, validate_default=True, description="see typed options")

    @model_validator(mode="before")
    @classmethod
    def _known_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("kind") not in typed.TARGET_OPTIONS:
            raise ValueError(f"unknown target kind {data.get('kind')!r} (target {data.get('name')!r});"
                             f" use one of: {', '.join(typed.TARGET_OPTIONS)}")
        return data


class Router(_Model, typed.OptionsOfKind):
    OPTIONS_BY_KIND = typed.ROUTER_OPTIONS
    DEFAULT_KIND = "nginx"

    kind: Literal["nginx", "none"] = "nginx"
    url: str | None = None
    options: typed.RouterOptionsOfKind = Field(default=None, validate_default=True, description="see typed options")


class Deploy(_Model):
    target: str | None = None
    strategy: Literal["recreate", "rolling", "blue-green", "canary"] = "blue-green"
    canary_weights: list[int] = Field(default_factory=lambda: [5, 25, 50, 100])
    order: list[str] = Field(default_factory=list)
    health_timeout_s: float = Field(default=60, gt=0)
    router: Router = Field(default_factory=Router)

    @field_validator("canary_weights")
    @classmethod
    def _weights(cls, value: list[int]) -> list[int]:
        if not value or any(not 0 < w <= 100 for w in value) or value != sorted(value) or value[-1] != 100:
            raise ValueError(f"expected increasing percentages ending at 100, got {value}")
        return value


class Migrations(_Model):
    tool: Literal["alembic", "sql"] = "alembic"
    run: Literal["host", "container"] = "host"
    path: str | None = None
    container: str | None = None
    timeout_s: float = Field(default=300, gt=0)
    command: list[str] | None = Field(
        default=None, description="run: container: the upgrade command (default: python -m alembic upgrade head)"
    )
    downgrade_command: list[str] | None = Field(
        default=None, description="run: container: the downgrade command; {revision} is replaced"
    )
    lock_timeout_s: float = Field(default=10, gt=0, description="lock_timeout of every migration session")
    image: str | None = Field(
        default=None, description="run: container without a container: docker run this image ({version}: the"
        " release) on the host network with DATABASE_URL"
    )


class Backup(_Model):
    dir: str = "reports/backups"
    retention_days: int = Field(default=30, ge=0)


class Database(_Model):
    dsn: str
    admin_dsn: str | None = None
    app_role: str | None = None
    readonly_role: str | None = None
    require_ssl: bool = False
    extensions: list[str] = Field(default_factory=list)
    migrations: Migrations = Field(default_factory=Migrations)
    backup: Backup = Field(default_factory=Backup)
    rollback_policy: Literal["app-only", "downgrade", "restore", "freeze"] = "app-only"
    restore_data_loss: Literal["report", "refuse"] = Field(
        default="report", description="restore policy: rows written after the backup are saved and reported, or"
        " the restore is refused"
    )
    schema_name: str = Field(default="public", description="schema the least-privilege checks try to create in")
    scratch_dsn: str | None = Field(
        default=None, description="a role that may CREATE DATABASE on the same server, for the reversibility"
        " check's scratch copy (default: admin_dsn)"
    )

    @field_validator("dsn", "admin_dsn", "scratch_dsn")
    @classmethod
    def _dsn(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^postgres(ql)?://", value):
            raise ValueError("expected a PostgreSQL DSN such as postgresql://user:${DB_PASSWORD}@host:5432/db")
        return value


class Prometheus(_Model):
    url: str
    timeout_s: float = Field(default=5, gt=0)
    scrape_interval_s: float = Field(default=1, gt=0)
    requests_metric: str = Field(default="http_requests_total", description="counter of HTTP requests")
    latency_histogram: str = Field(
        default="http_request_duration_seconds", description="histogram of request durations (without _bucket)"
    )
    service_label: str = Field(default="service", description="label holding the service name")
    version_label: str = Field(default="version", description="label holding the version")
    status_label: str = Field(default="status", description="label holding the HTTP status code")
    error_status: str = Field(default="5..", description="regex of the status codes that count as errors")
    alert_service_label: str | None = Field(
        default="service", description="label that ties an alert to a service; null: every firing alert counts"
    )


_CONDITION = re.compile(r"^\s*(result\s*)?(<=|>=|==|!=|<|>)\s*[-+]?[\d.]+(e[-+]?\d+)?\s*$")


class SloMetric(_Model):
    name: str
    query: str = Field(description="PromQL; {service}, {version} and {window} are filled in")
    success: str | None = Field(default=None, description="e.g. '< 0.01'")
    failure: str | None = Field(default=None, description="e.g. '>= 0.05'")
    interval_s: float | None = Field(default=None, gt=0)
    count: int | None = Field(default=None, ge=1)
    duration_s: float | None = Field(default=None, ge=0)
    initial_delay_s: float | None = Field(default=None, ge=0)
    failure_limit: int | None = Field(default=None, ge=0)
    inconclusive_limit: int | None = Field(default=None, ge=0)
    consecutive_successes: int | None = Field(default=None, ge=1)
    consecutive_error_limit: int | None = Field(default=None, ge=0)
    no_data: Literal["fail", "inconclusive", "pass"] | None = None
    dry_run: bool = False

    @field_validator("success", "failure")
    @classmethod
    def _condition(cls, value: str | None) -> str | None:
        if value is not None and not _CONDITION.match(value):
            raise ValueError(f"expected a comparison such as '< 0.01' or '>= 0.995', got {value!r}")
        return value

    @model_validator(mode="after")
    def _judged(self) -> SloMetric:
        if self.success is None and self.failure is None:
            raise ValueError(f"metric {self.name!r} needs a success or a failure condition")
        if self.count is not None and self.duration_s is not None:
            raise ValueError(f"metric {self.name!r}: give count or duration_s, not both")
        return self


class Slo(_Model):
    error_rate_max: float = Field(default=0.01, ge=0, le=1)
    p95_latency_max_s: float = Field(default=1.0, gt=0)
    availability_min: float = Field(default=0.995, ge=0, le=1)
    window_s: float = Field(default=60, gt=0)
    interval_s: float = Field(default=10, gt=0)
    failure_limit: int = Field(default=0, ge=0)
    consecutive_error_limit: int = Field(default=3, ge=0)
    no_data: Literal["fail", "inconclusive", "pass"] = "inconclusive"
    initial_delay_s: float = Field(default=0, ge=0)
    inconclusive_limit: int = Field(default=0, ge=0)
    error_retry_s: float = Field(default=1, gt=0)
    latency_quantile: float = Field(default=0.95, gt=0, lt=1)
    request_rate_min: float | None = Field(default=None, ge=0)
    alerts: bool = Field(default=True, description="the SLO analysis also requires that no alert is firing")
    baseline_tolerance: float = Field(default=0.1, ge=0)
    baseline_min_delta: dict[str, float] = Field(
        default_factory=dict, description="absolute slack per built-in (error_rate, latency, ...) in comparisons"
    )
    baseline: dict[str, float] = Field(
        default_factory=dict, description="recorded figures of the previous release, per built-in"
    )
    metrics: list[SloMetric] = Field(default_factory=list, description="extra PromQL metrics of the SLO analysis")


class LoadEndpoint(_Model):
    path: str
    method: str = "GET"
    weight: int = Field(default=1, ge=1)
    name: str | None = None
    json_body: Any = None


class LoadStage(_Model):
    duration_s: float = Field(gt=0)
    users: int = Field(ge=1)
    spawn_rate: float = Field(default=10, gt=0)


class LoadThresholds(_Model):
    failure_ratio_max: float | None = Field(default=0.01, ge=0, le=1)
    p95_ms_max: float | None = Field(default=None, gt=0)
    min_rps: float | None = Field(default=None, ge=0)
    grace_s: float = Field(default=5, ge=0)


class LoadProfile(_Model):
    service: str | None = None
    endpoints: list[LoadEndpoint] = Field(min_length=1)
    stages: list[LoadStage] = Field(min_length=1)
    thresholds: LoadThresholds = Field(default_factory=LoadThresholds)
    workers: int = Field(default=0, ge=0)
    user_class: Literal["fast", "http"] = "fast"
    wait_min_s: float = Field(default=0, ge=0, description="pause of each user between requests, lower bound")
    wait_max_s: float = Field(default=0, ge=0, description="pause of each user between requests, upper bound")
    host: str | None = Field(default=None, description="URL the load goes to; default: the service's base_url")


class RollbackCommand(_Model):
    stage: str = Field(description="the stage (backup, migrate, deploy, ...) whose changes the command undoes")
    run: str = Field(description="shell command; recorded in the plan when the stage begins, so write it idempotent")
    timeout_s: float = Field(default=120, gt=0)
    cwd: str | None = None


class Rollback(_Model):
    enabled: bool = True
    on_inconclusive: Literal["halt", "rollback"] = "halt"
    verify_timeout_s: float = Field(default=60, gt=0)
    commands: list[RollbackCommand] = Field(default_factory=list)


class HostCommand(_Model):
    run: str = Field(description="shell command (bash -c) run on this machine from the project folder")
    timeout_s: float = Field(default=300, gt=0)
    cwd: str | None = Field(default=None, description="folder to run in, relative to the project")


class Notifications(_Model):
    webhook_url: str | None = None
    timeout_s: float = Field(default=3, gt=0)
    retries: int = Field(default=2, ge=0)
    channel: str | None = None


# What one entry of each named section is called in messages ("no load profile named 'x' ...").
_ENTRY_KIND = {"services": "service", "targets": "target", "load": "load profile", "commands": "command"}


class Runbook(_Model):
    name: str
    description: str = ""
    path: Path | None = Field(default=None, exclude=True)
    release: Release = Field(default_factory=Release)
    require_approval: bool = False
    operator: str | None = None
    env_files: list[str] = Field(default_factory=list)
    secrets: list[str] = Field(default_factory=list, description="extra variable names that hold secrets")
    stack: StackSection = Field(default=None, description="a stack the suite starts itself (runbook/stack.py)")
    services: list[Service] = Field(default_factory=list)
    targets: list[Target] = Field(default_factory=list)
    deploy: Deploy = Field(default_factory=Deploy)
    database: Database | None = None
    prometheus: Prometheus | None = None
    slo: Slo = Field(default_factory=Slo)
    load: dict[str, LoadProfile] = Field(default_factory=dict)
    rollback: Rollback = Field(default_factory=Rollback)
    notifications: Notifications = Field(default_factory=Notifications)
    confirmations_file: str | None = None
    commands: dict[str, HostCommand] = Field(
        default_factory=dict,
        description="named host commands: 'the command \"NAME\" succeeds' runs commands[NAME].run, else NAME itself",
    )

    @field_validator("commands", mode="before")
    @classmethod
    def _command_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"run": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _references(self) -> Runbook:
        names = {s.name for s in self.services}
        targets = {t.name for t in self.targets}
        if self.deploy.target is not None and self.deploy.target not in targets:
            raise ValueError(f"deploy.target {self.deploy.target!r} is not one of targets {sorted(targets)}")
        for name in self.deploy.order:
            if name not in names:
                raise ValueError(f"deploy.order names {name!r}, which is not one of services {sorted(names)}")
        for profile_name, profile in self.load.items():
            if profile.service is not None and profile.service not in names:
                raise ValueError(
                    f"load.{profile_name}.service {profile.service!r} is not one of services {sorted(names)}"
                )
        return self

    @overload
    def lookup(self, section: Literal["services"], name: str) -> Service: ...
    @overload
    def lookup(self, section: Literal["targets"], name: str) -> Target: ...
    @overload
    def lookup(self, section: Literal["load"], name: str) -> LoadProfile: ...
    @overload
    def lookup(self, section: Literal["commands"], name: str) -> HostCommand: ...

    def lookup(self, section: str, name: str) -> Any:
        """The entry ``name`` of a named section: services, targets, load or commands.

        Else ``NotInRunbook`` (a ConfigError and a KeyError) with the names the section has, in the runbook's order.
        """
        entries = getattr(self, section)
        if isinstance(entries, dict):
            if name in entries:
                return entries[name]
            known = list(entries)
        else:
            for entry in entries:
                if entry.name == name:
                    return entry
            known = [entry.name for entry in entries]
        raise NotInRunbook(_ENTRY_KIND[section], name, self.name, known)

    def service(self, name: str) -> Service:
        return self.lookup("services", name)

    def target(self, name: str | None = None) -> Target:
        """The target ``name``, else ``deploy.target``, else the first one."""
        wanted = name or self.deploy.target or (self.targets[0].name if self.targets else None)
        if wanted is None:
            raise NotInRunbook("target", None, self.name, [])
        return self.lookup("targets", wanted)

    @property
    def version_to(self) -> str | None:
        return self.release.version

    @property
    def version_from(self) -> str | None:
        return self.release.previous_version


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
