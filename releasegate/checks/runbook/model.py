"""The runbook's typed model: its sections, as pydantic models that reject unknown fields.

``loader.load_runbook`` builds a ``Runbook`` from a YAML file; target and router options are
typed per kind in ``options``, the ``stack:`` section in ``stack``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version
from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from testinfra.backend import BACKENDS as TESTINFRA_BACKENDS

from releasegate.checks import secrets
from releasegate.checks._support import shell, squawk
from releasegate.checks.errors import (
    NotInRunbook,
)
from releasegate.checks.runbook import options as typed
from releasegate.checks.runbook.stack import StackSection

VERSION_MAX_LENGTH = 128  # a Docker tag's limit: versions become image tags
VERSION_FORMS = "a version such as 1.4.0 or 2.0.0rc1 (PEP 440) or 1.1.0-errors (SemVer 2.0.0)"

# The regular expression semver.org gives for SemVer 2.0.0 (with [0-9] for \d, which would take any Unicode digit).
_SEMVER = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)


def check_version(value: str) -> str:
    """``value`` unchanged when it is a release version: PEP 440 or SemVer 2.0.0, at most 128 characters.

    Either grammar allows only letters, digits and ``. - _ + !``: no whitespace, no shell characters.
    The text is kept as written (``1.1.0-errors`` is an image tag; PEP 440 would normalize it).
    """
    if not value:
        raise ValueError(f"empty; expected {VERSION_FORMS}")
    if len(value) > VERSION_MAX_LENGTH:
        raise ValueError(f"expected {VERSION_FORMS} of at most {VERSION_MAX_LENGTH} characters, got {len(value)}")
    if _SEMVER.fullmatch(value):
        return value
    try:
        if value.strip() == value:  # packaging.version ignores surrounding whitespace
            Pep440Version(value)
            return value
    except InvalidVersion:
        pass
    raise ValueError(f"expected {VERSION_FORMS}, without spaces or shell characters, got {value!r}")


ReleaseVersion = Annotated[str, AfterValidator(check_version)]
"""A version of the release: ``check_version``."""


def _one_line(value: str) -> str:
    if not value.strip() or value.strip() != value or not value.isprintable():
        raise ValueError(f"expected a name on one line, without surrounding spaces or control characters,"
                         f" got {value!r}")
    return value


Name = Annotated[str, AfterValidator(_one_line)]
"""A name that reaches the report header, the journal and the sign-off: one printable line, not empty."""

_ANY_URL = TypeAdapter(AnyUrl)
_HTTP_URL = TypeAdapter(AnyHttpUrl)
_HOSTLESS_SCHEMES = ("local", "unix", "npipe", "chroot")  # a socket path or this machine: no host to name


def _url_problem(value: str, adapter: TypeAdapter[Any], schemes: tuple[str, ...] | None = None) -> bool:
    """True when ``value`` is not a URL of ``adapter`` (and of one of ``schemes``), or names no host it needs.

    pydantic parses URLs as browsers do, dropping tabs and line breaks: they are refused first.
    """
    if any(c.isspace() or not c.isprintable() for c in value):
        return True
    try:
        url = adapter.validate_python(value)
    except ValidationError:
        return True
    if schemes is not None and url.scheme not in schemes:
        return True
    return not url.host and url.scheme not in _HOSTLESS_SCHEMES


def http_url(example: str, *, show: bool = True) -> AfterValidator:
    """A validator for an http(s) URL with a host; ``show=False`` keeps the value (a token?) out of the message."""

    def check(value: str) -> str:
        if _url_problem(value, _HTTP_URL):
            got = f"got {secrets.redact(repr(value))}" if show else "got a value that is not one (not shown)"
            raise ValueError(f"expected an http(s) URL such as {example}, {got}")
        return value

    return AfterValidator(check)


HttpUrl = Annotated[str, http_url("http://127.0.0.1:8080")]
"""An http(s) URL with a host, kept as written (a ``str``: callers append paths to it)."""

# What a target's url may be, by kind: a Docker engine address, an API server, a testinfra host spec.
_DOCKER_SCHEMES = ("unix", "tcp", "ssh", "http", "https", "npipe")
TARGET_URLS: dict[str, tuple[tuple[str, ...], str]] = {
    "docker": (_DOCKER_SCHEMES, "unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host"),
    "compose": (_DOCKER_SCHEMES, "unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host"),
    "kubernetes": (("http", "https"), "https://kubernetes.example.com:6443"),
    "host": (tuple(TESTINFRA_BACKENDS), "local://, ssh://user@host or docker://container (a testinfra spec)"),
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-(([01][0-9]|2[0-3]):([0-5][0-9])|24:00)$")


class AllowedWindow(_Model):
    days: list[str] = Field(default_factory=lambda: list(_DAY_NAMES[:5]), description="mon ... sun; default mon-fri")
    hours: str = Field(default="00:00-24:00", description="HH:MM-HH:MM local time, end excluded (24:00: midnight)")

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        if isinstance(value, list):
            found = [str(day).lower()[:3] if isinstance(day, str) else day for day in value]
            unknown = [day for day in found if day not in _DAY_NAMES]
            if unknown or not found:
                raise ValueError(f"expected days among {', '.join(_DAY_NAMES)}, got {value!r}")
            return found
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        match = _HOURS.match(value)
        if match is None:
            raise ValueError(f"expected hours such as 09:00-17:00 (local time, 24-hour clock), got {value!r}")
        start, end = value.split("-")
        if end != "24:00" and end <= start:
            raise ValueError(f"hours {value!r}: the end must be after the start (a window ends by midnight;"
                             " write two windows for a night)")
        return value

    @property
    def start(self) -> dt.time:
        hour, minute = self.hours.split("-")[0].split(":")
        return dt.time(int(hour), int(minute))

    @property
    def end(self) -> dt.time | None:
        """The end, or None for midnight at the end of the day (24:00)."""
        text = self.hours.split("-")[1]
        if text == "24:00":
            return None
        hour, minute = text.split(":")
        return dt.time(int(hour), int(minute))

    def describe(self) -> str:
        return f"{','.join(self.days)} {self.hours}"


class Freeze(_Model):
    name: Name
    start: dt.date = Field(alias="from", description="first frozen day (local), YYYY-MM-DD")
    end: dt.date = Field(alias="to", description="last frozen day (local, included), YYYY-MM-DD")
    reason: Name

    @model_validator(mode="after")
    def _ordered(self) -> Freeze:
        if self.end < self.start:
            raise ValueError(f"freeze {self.name!r}: to ({self.end}) is before from ({self.start})")
        return self


class ReleaseWindows(_Model):
    timezone: str = Field(default="UTC", description="IANA time zone of days, hours and freezes, e.g. Europe/Berlin")
    allowed: list[AllowedWindow] = Field(default_factory=list, description="when releases may start; empty: any time")
    freezes: list[Freeze] = Field(default_factory=list, description="named date ranges without releases")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin or UTC") from None
        return value


class Release(_Model):
    version: ReleaseVersion | None = None
    previous_version: ReleaseVersion | None = None
    windows: ReleaseWindows | None = Field(default=None, description="when releases are allowed, and freezes")


class Service(_Model):
    name: Name
    base_url: HttpUrl
    health: str = "/health"
    readiness: str | None = "/ready"
    version_endpoint: str | None = "/version"
    version_field: str = "version"
    expected_version: ReleaseVersion | None = None
    image: str | None = None
    port: int = Field(default=8000, ge=1, le=65535)
    instances: int = Field(default=1, ge=1)
    env: dict[str, str] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


class Target(_Model, typed.OptionsOfKind):
    OPTIONS_BY_KIND = typed.TARGET_OPTIONS

    name: Name
    kind: str = Field(description="docker, compose, kubernetes or host")
    url: str | None = None
    options: typed.TargetOptions = Field(default=None, validate_default=True, description="see typed options")

    @model_validator(mode="before")
    @classmethod
    def _known_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and not (isinstance(data.get("kind"), str) and data["kind"] in typed.TARGET_OPTIONS):
            raise ValueError(f"unknown target kind {data.get('kind')!r} (target {data.get('name')!r});"
                             f" use one of: {', '.join(typed.TARGET_OPTIONS)}")
        return data

    @field_validator("url")
    @classmethod
    def _url_of_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = str(info.data.get("kind"))
        if value is not None and kind in TARGET_URLS:
            schemes, examples = TARGET_URLS[kind]
            if _url_problem(value, _ANY_URL, schemes):
                raise ValueError(f"expected the address of a {kind} target such as {examples},"
                                 f" got {secrets.redact(repr(value))}")
        return value


class Router(_Model, typed.OptionsOfKind):
    OPTIONS_BY_KIND = typed.ROUTER_OPTIONS
    DEFAULT_KIND = "nginx"

    kind: Literal["nginx", "none"] = "nginx"
    url: HttpUrl | None = None
    options: typed.RouterOptionsOfKind = Field(default=None, validate_default=True, description="see typed options")


class CanaryOptions(_Model):
    load: str | None = Field(
        default=None,
        description="a load profile of the runbook's load: section, run against the router for the whole canary"
                    " so that every analysis gate judges the traffic mix the profile describes",
    )


class Deploy(_Model):
    target: str | None = None
    strategy: Literal["recreate", "rolling", "blue-green", "canary"] = "blue-green"
    canary_weights: list[int] = Field(default_factory=lambda: [5, 25, 50, 100])
    canary: CanaryOptions = Field(default_factory=CanaryOptions)
    order: list[str] = Field(default_factory=list)
    health_timeout_s: float = Field(default=60, gt=0)
    router: Router = Field(default_factory=Router)

    @field_validator("canary_weights")
    @classmethod
    def _weights(cls, value: list[int]) -> list[int]:
        if not value or any(not 0 < w <= 100 for w in value) or value != sorted(value) or value[-1] != 100:
            raise ValueError(f"expected increasing percentages ending at 100, got {value}")
        return value


_SQUAWK_RULE = re.compile(r"^[a-z][a-z0-9-]*$")
# squawk's rules about column and index style, not about locks or breaking clients: they only warn by default
DEFAULT_WARN_RULES = ("prefer-robust-stmts", "prefer-bigint-over-int", "prefer-bigint-over-smallint",
                      "prefer-identity", "prefer-text-field", "prefer-timestamptz", "ban-char-field")


OWN_LINT_RULES = ("timeout-override",)  # releasegate's own findings beside squawk's


def _rule_names(value: list[str]) -> list[str]:
    bad = [name for name in value if not _SQUAWK_RULE.match(name)]
    if bad:
        raise ValueError(f"not a squawk rule name: {', '.join(map(repr, bad))} (expected names such as"
                         " require-concurrent-index-creation)")
    unknown = squawk.unknown_rule(n for n in value if n not in OWN_LINT_RULES)
    if unknown is not None:
        raise ValueError(f"squawk {squawk.version()} has no rule {unknown!r}; the rule names are squawk's"
                         " (https://squawkhq.com/docs/rules) or timeout-override")
    return value


class LintWaiver(_Model):
    rule: Annotated[str, AfterValidator(lambda v: _rule_names([v])[0])]
    migration: str = Field(min_length=1, description="the alembic revision, or the SQL file's version or name")
    reason: str = Field(min_length=1, description="why the finding is safe, and who reviewed it")


class MigrationLint(_Model):
    fail: Annotated[list[str], AfterValidator(_rule_names)] | None = Field(
        default=None, description="squawk rules whose findings fail the gate (default: every rule not in warn)")
    warn: Annotated[list[str], AfterValidator(_rule_names)] = Field(
        default_factory=lambda: list(DEFAULT_WARN_RULES), description="squawk rules whose findings only warn")
    include: Annotated[list[str], AfterValidator(_rule_names)] = Field(
        default_factory=list, description="squawk's opt-in rules to check as well")
    waivers: list[LintWaiver] = Field(default_factory=list, description="reviewed findings: rule + migration +"
                                      " reason, recorded in the evidence")
    pg_version: str | None = Field(default=None, pattern=r"^[0-9]+(\.[0-9]+)*$",
                                   description="the PostgreSQL version squawk judges for (default: the server's)")

    @model_validator(mode="after")
    def _fail_or_warn(self) -> MigrationLint:
        both = sorted(set(self.fail or ()) & set(self.warn))
        if both:
            raise ValueError(f"rules both in fail and warn: {', '.join(both)}; keep each in one list")
        return self


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
        default=None, description="run: container: the downgrade command; {revision} is replaced (quoted in the"
        " script of sh -c)"
    )
    lock_timeout_s: float = Field(default=10, gt=0, description="lock_timeout of every migration session")
    image: str | None = Field(
        default=None, description="run: container without a container: docker run this image ({version}: the"
        " release) on the host network with DATABASE_URL"
    )
    sql_command: list[str] | None = Field(
        default=None, description="run: container: the command printing the pending migrations' SQL (alembic"
        " offline mode); {range} is FROM:head (default: python -m alembic upgrade --sql {range})"
    )
    lint: MigrationLint = Field(default_factory=MigrationLint, description="the safety lint (squawk) of the"
                                " pending migrations")

    @field_validator("downgrade_command")
    @classmethod
    def _downgrade_script(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else shell.check_argv(value, ("revision",))

    @field_validator("sql_command")
    @classmethod
    def _sql_script(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else shell.check_argv(value, ("range",))


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
    url: Annotated[str, http_url("http://127.0.0.1:9090")]
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


DEFAULT_REAL_TRAFFIC_SELECTOR = 'synthetic=~"|false|load"'
DEFAULT_MIN_REQUEST_RATE = 1.0


class SloTraffic(_Model):
    """What counts as the real traffic of one service, and how much of it a verdict needs (slo.services.NAME)."""

    real_traffic_selector: str | None = Field(
        default=None, description="PromQL label matchers selecting the traffic that represents the service")
    min_request_rate: float | None = Field(
        default=None, ge=0, description="requests per second of real traffic below which no verdict is given")

    @field_validator("real_traffic_selector")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        return None if value is None else _check_selector(value)


class Slo(_Model):
    real_traffic_selector: str = Field(
        default=DEFAULT_REAL_TRAFFIC_SELECTOR,
        description="PromQL label matchers added to every SLO and analysis query: the traffic that represents the"
                    " service (default: no synthetic label, synthetic=\"false\" or a load profile's"
                    " synthetic=\"load\"; the prober's synthetic=\"prober\" never counts); \"\" counts everything",
    )
    min_request_rate: float = Field(
        default=DEFAULT_MIN_REQUEST_RATE, ge=0,
        description="requests per second of real traffic a measurement needs; below it the measurement is"
                    " INCONCLUSIVE (not enough traffic to judge), never a pass",
    )
    endpoint_label: str = Field(default="path", description="label holding the endpoint, for the traffic report")
    services: dict[str, SloTraffic] = Field(
        default_factory=dict, description="per service: real_traffic_selector and min_request_rate")
    max_duration_s: float | None = Field(
        default=None, gt=0,
        description="caps the duration of every SLO measurement (a rehearsal on a test stack); the evidence says so",
    )
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

    @field_validator("real_traffic_selector")
    @classmethod
    def _selector(cls, value: str) -> str:
        return _check_selector(value)

    def traffic(self, service: str | None) -> tuple[str, float]:
        """(real traffic selector, minimum real requests per second) of ``service``."""
        own = self.services.get(service or "")
        selector = own.real_traffic_selector if own and own.real_traffic_selector is not None \
            else self.real_traffic_selector
        minimum = own.min_request_rate if own and own.min_request_rate is not None else self.min_request_rate
        return selector, minimum


_MATCHER = re.compile(r'^\s*[A-Za-z_][A-Za-z0-9_]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*$')


def _check_selector(value: str) -> str:
    """Label matchers as written inside PromQL braces: ``synthetic!="prober", region="eu"`` (or "" for none)."""
    text = value.strip().removeprefix("{").removesuffix("}").strip()
    if not text:
        return ""
    for part in _split_matchers(text):
        if not _MATCHER.match(part):
            raise ValueError(f"cannot read the label matcher {part.strip()!r}; write matchers as inside PromQL"
                             " braces, e.g. 'synthetic!=\"prober\"'")
    return text


def _split_matchers(text: str) -> list[str]:
    parts, current, quoted, escaped = [], "", False, False
    for char in text:
        if char == "," and not quoted:
            parts.append(current)
            current = ""
            continue
        current += char
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
    parts.append(current)
    return [p for p in parts if p.strip()]


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
    host: HttpUrl | None = Field(default=None, description="URL the load goes to; default: the service's base_url")


ROLLBACK_COMMAND_FIELDS = ("version", "previous_version")


class RollbackCommand(_Model):
    stage: str = Field(description="the stage (backup, migrate, deploy, ...) whose changes the command undoes")
    run: str = Field(description="shell command; recorded in the plan when the stage begins, so write it idempotent;"
                                 " {version} and {previous_version} (of release:) are quoted in")
    timeout_s: float = Field(default=120, gt=0)
    cwd: str | None = None

    @field_validator("run")
    @classmethod
    def _shell_template(cls, value: str) -> str:
        return shell.check_template(value, ROLLBACK_COMMAND_FIELDS)


class Rollback(_Model):
    enabled: bool = True
    on_inconclusive: Literal["halt", "rollback"] = "halt"
    verify_timeout_s: float = Field(default=60, gt=0)
    commands: list[RollbackCommand] = Field(default_factory=list)


class HostCommand(_Model):
    run: str = Field(description="shell command (bash -c) run on this machine from the project folder")
    timeout_s: float = Field(default=300, gt=0)
    cwd: str | None = Field(default=None, description="folder to run in, relative to the project")
    read_only: bool = Field(default=False, description="the command changes nothing, so it runs under --dry-run")


class Notifications(_Model):
    webhook_url: Annotated[str, http_url("https://hooks.example.com/services/...", show=False)] | None = None
    timeout_s: float = Field(default=3, gt=0)
    retries: int = Field(default=2, ge=0)
    channel: Name | None = None


# What one entry of each named section is called in messages ("no load profile named 'x' ...").
_ENTRY_KIND = {"services": "service", "targets": "target", "load": "load profile", "commands": "command"}


class Runbook(_Model):
    name: Name
    description: str = ""
    path: Path | None = Field(default=None, exclude=True)
    release: Release = Field(default_factory=Release)
    require_approval: bool = False
    operator: Name | None = None
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
        for service_name in self.slo.services:
            if service_name not in names:
                raise ValueError(f"slo.services names {service_name!r}, which is not one of services {sorted(names)}")
        if self.deploy.canary.load is not None and self.deploy.canary.load not in self.load:
            raise ValueError(f"deploy.canary.load {self.deploy.canary.load!r} is not one of the load profiles"
                             f" {sorted(self.load)}")
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
