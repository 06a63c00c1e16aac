"""Environment variables: set, not a placeholder, well typed, consistent with each other.

Values come from a ``Variables`` source: the process environment (over the runbook's
``env_files``), or one dotenv file such as ``.env.production``. A value whose name looks like a
secret (``checks.secrets.is_secret_name``) is registered for redaction and never shown: its
evidence reads "set (masked)".
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from releasegate.checks import secrets
from releasegate.checks.result import CheckResult, Outcome, combine

MASKED = "set (masked)"
NOT_SET = "not set"

TRUE_WORDS = frozenset({"1", "true", "yes", "on", "y", "t"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "n", "f"})

# Values people leave in templates. Matched case-insensitively against the whole value.
_PLACEHOLDER_WORDS = frozenset({
    "changeme", "change_me", "change-me", "changethis", "replaceme", "replace_me", "replace-me",
    "todo", "tbd", "fixme", "placeholder", "example", "dummy", "secret", "password", "undefined", "xxx",
})
_PLACEHOLDER_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"<[^<>]*>"), "contains a <...> template marker"),
    (re.compile(r"\$\{[^}]*\}|\{\{[^}]*\}\}"), "contains an unresolved ${...} or {{...}} reference"),
    (re.compile(r"(?:^|[^a-z0-9])your[_-]", re.IGNORECASE), "contains a your_... / your-... template word"),
    (re.compile(r"(?:^|[^a-z0-9])(?:change[_-]?me|replace[_-]?me|todo|fixme|tbd)(?:[^a-z0-9]|$)", re.IGNORECASE),
     "contains changeme / TODO / FIXME / TBD"),
    (re.compile(r"(?:^|[^a-z0-9])x{3,}(?:[^a-z0-9]|$)", re.IGNORECASE), "contains xxx"),
    (re.compile(r"\.\.\.|\u2026"), "contains an ellipsis (...)"),
)


@dataclass(frozen=True)
class KeyFormat:
    """The shape of a real API key of one provider: a prefix and a minimum length."""

    provider: str
    prefix: str
    min_length: int


# Real keys are long random strings; "sk-ant-api03-dev-key" is a stub left in a template.
KEY_FORMATS: tuple[KeyFormat, ...] = (
    KeyFormat("Anthropic", "sk-ant-", 60),
    KeyFormat("OpenAI", "sk-", 40),
    KeyFormat("Google (Gemini)", "AIza", 39),
)


@dataclass(frozen=True)
class Variables:
    """Named values and where they came from (shown in evidence)."""

    values: Mapping[str, str]
    source: str
    secret_names: frozenset[str] = field(default_factory=frozenset)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def is_secret(self, name: str) -> bool:
        return secrets.is_secret_name(name) or name in self.secret_names


def from_process(
    environ: Mapping[str, str] | None = None,
    env_files: Iterable[Path] = (),
    secret_names: Iterable[str] = (),
) -> Variables:
    """The process environment, over the values of ``env_files`` (the runbook's precedence)."""
    merged: dict[str, str] = {}
    files = [Path(f) for f in env_files]
    for file in files:
        merged.update(read_dotenv(file))
    merged.update(os.environ if environ is None else environ)
    source = "process environment" + (f" over {', '.join(str(f) for f in files)}" if files else "")
    return Variables(merged, source, frozenset(secret_names))


def from_dotenv(path: Path, secret_names: Iterable[str] = ()) -> Variables:
    """The values of one dotenv file (raises ``FileNotFoundError`` when it does not exist)."""
    return Variables(read_dotenv(path), str(path), frozenset(secret_names))


def read_dotenv(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values

    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def split_names(text: str) -> list[str]:
    """ "A, B C" -> ["A", "B", "C"]: lists in step phrases are separated by commas or spaces."""
    return [part for part in re.split(r"[\s,]+", text.strip()) if part]


def placeholder_reason(value: str) -> str | None:
    """Why a value looks like a template placeholder rather than a real setting, or None."""
    stripped = value.strip()
    if not stripped:
        return "empty"
    if stripped.lower() in _PLACEHOLDER_WORDS:
        return "a well-known placeholder word"
    for pattern, reason in _PLACEHOLDER_PATTERNS:
        if pattern.search(stripped):
            return reason
    for key_format in KEY_FORMATS:
        if stripped.startswith(key_format.prefix) and len(stripped) < key_format.min_length:
            return (
                f"a {key_format.provider} key stub: starts with {key_format.prefix!r} but has {len(stripped)}"
                f" characters, real keys have at least {key_format.min_length}"
            )
    return None


def shown(variables: Variables, name: str, value: str | None) -> str:
    """What evidence may show of a value: the value itself, or "set (masked)" for a secret."""
    if value is None:
        return NOT_SET
    if variables.is_secret(name):
        secrets.register(value)
        return MASKED
    # A template's "user:password@" is not a secret; registering the word would mask it everywhere.
    secrets.register_many(p for p in secrets.url_passwords(value) if p.casefold() not in _PLACEHOLDER_WORDS)
    return secrets.redact(value)


def _evidence(variables: Variables, **extra: object) -> dict[str, object]:
    return {"source": variables.source, **extra}


def _not_set(variables: Variables, name: str, check: str, expected: str) -> CheckResult:
    return CheckResult.fail(check, NOT_SET, expected, detail=f"{name} is not set in {variables.source}",
                            evidence=_evidence(variables))


def check_set(variables: Variables, name: str) -> CheckResult:
    """Set, not empty and not a placeholder."""
    check = f"environment variable {name} is set"
    expected = "set, not empty, not a placeholder"
    value = variables.get(name)
    if value is None:
        return _not_set(variables, name, check, expected)
    observed = shown(variables, name, value)
    reason = placeholder_reason(value)
    if reason is not None:
        return CheckResult.fail(check, f"{observed}, looks like a placeholder", expected,
                                detail=f"{name} looks like a placeholder: {reason}",
                                evidence=_evidence(variables, placeholder=reason))
    return CheckResult.ok(check, observed, expected, evidence=_evidence(variables))


def check_all_set(variables: Variables, names: Iterable[str]) -> CheckResult:
    wanted = list(names)
    return combine(f"environment variables {', '.join(wanted)} are set", [check_set(variables, n) for n in wanted])


def check_any_set(variables: Variables, names: Iterable[str]) -> CheckResult:
    """At least one of a group is set and not a placeholder (e.g. one AI provider key)."""
    wanted = list(names)
    states: dict[str, str] = {}
    for name in wanted:
        value = variables.get(name)
        if value is None:
            states[name] = NOT_SET
            continue
        observed = shown(variables, name, value)
        reason = placeholder_reason(value)
        states[name] = f"{observed}, placeholder: {reason}" if reason else observed
    usable = [n for n in wanted if variables.get(n) is not None and placeholder_reason(variables.get(n) or "") is None]
    return CheckResult.judge(
        f"at least one of {', '.join(wanted)} is set",
        bool(usable),
        states,
        f"at least one of {len(wanted)} set and not a placeholder",
        detail="" if usable else "none of them is set to a real value",
        evidence=_evidence(variables, usable=usable),
    )


def _typed(
    variables: Variables,
    name: str,
    kind: str,
    validate: Callable[[str], str | None],
) -> CheckResult:
    """Shared shape of the typed checks: ``validate`` returns the problem, or None."""
    check = f"environment variable {name} is {kind}"
    value = variables.get(name)
    if value is None:
        return _not_set(variables, name, check, kind)
    observed = shown(variables, name, value)
    reason = placeholder_reason(value)
    problem = f"looks like a placeholder: {reason}" if reason else validate(value.strip())
    if problem is not None:
        return CheckResult.fail(check, observed, kind, detail=f"{name} {secrets.redact(problem)}",
                                evidence=_evidence(variables))
    return CheckResult.ok(check, observed, kind, evidence=_evidence(variables))


def url_problem(value: str, schemes: Iterable[str] = ("http", "https")) -> str | None:
    allowed = tuple(schemes)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL: {exc}"
    if parts.scheme not in allowed:
        return f"has scheme {parts.scheme or '(none)'!r}, expected one of {', '.join(allowed)}"
    if not parts.hostname:
        return "has no host name"
    if port is not None and not 0 < port < 65536:
        return f"has port {port}, expected 1-65535"
    return None


def dsn_problem(value: str) -> str | None:
    """A PostgreSQL URL: postgresql://[user[:password]@]host[:port]/database."""
    problem = url_problem(value, ("postgresql", "postgres"))
    if problem is not None:
        return problem
    path = urlsplit(value).path.lstrip("/")
    if not path:
        return "names no database (expected postgresql://user:password@host:5432/database)"
    return None


def check_url(variables: Variables, name: str, schemes: Iterable[str] = ("http", "https")) -> CheckResult:
    allowed = tuple(schemes)
    return _typed(variables, name, f"a URL ({'/'.join(allowed)})", lambda v: url_problem(v, allowed))


def check_url_list(variables: Variables, name: str) -> CheckResult:
    """A comma-separated list of http(s) URLs, such as CORS_ORIGINS."""

    def validate(value: str) -> str | None:
        items = [item.strip() for item in value.split(",")]
        if not any(items):
            return "is an empty list"
        for item in items:
            problem = url_problem(item)
            if problem is not None:
                return f"item {item!r} {problem}"
        return None

    return _typed(variables, name, "a comma-separated list of URLs", validate)


def check_dsn(variables: Variables, name: str) -> CheckResult:
    return _typed(variables, name, "a PostgreSQL DSN", dsn_problem)


def check_integer(
    variables: Variables, name: str, minimum: int | None = None, maximum: int | None = None
) -> CheckResult:
    kind = "an integer" + (
        f" between {minimum} and {maximum}" if minimum is not None and maximum is not None
        else f" of at least {minimum}" if minimum is not None
        else f" of at most {maximum}" if maximum is not None
        else ""
    )

    def validate(value: str) -> str | None:
        try:
            number = int(value)
        except ValueError:
            return "is not an integer"
        if minimum is not None and number < minimum:
            return f"is {number}, below {minimum}"
        if maximum is not None and number > maximum:
            return f"is {number}, above {maximum}"
        return None

    return _typed(variables, name, kind, validate)


def check_one_of(variables: Variables, name: str, choices: Iterable[str]) -> CheckResult:
    """One of a set of words, compared without regard to case (INFO and info are the same level)."""
    allowed = list(choices)
    folded = {c.casefold() for c in allowed}

    def validate(value: str) -> str | None:
        return None if value.casefold() in folded else f"is not one of {', '.join(allowed)}"

    return _typed(variables, name, f"one of {', '.join(allowed)}", validate)


def parse_bool(value: str) -> bool | None:
    word = value.strip().casefold()
    return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None


def check_bool(variables: Variables, name: str, expected: bool, *, unset_ok: bool = False) -> CheckResult:
    """A boolean flag with the expected value (DEBUG_MODE must be false in production).

    ``unset_ok`` accepts a missing variable, for flags whose application default is the
    expected value.
    """
    word = "true" if expected else "false"
    check = f"environment variable {name} is {word}"
    value = variables.get(name)
    if value is None:
        outcome = Outcome.PASS if unset_ok else Outcome.FAIL
        detail = "" if unset_ok else f"{name} is not set in {variables.source}; set it to {word} explicitly"
        return CheckResult(check, outcome, NOT_SET, word + (" or not set" if unset_ok else ""), detail=detail,
                           evidence=_evidence(variables))
    parsed = parse_bool(value)
    observed = shown(variables, name, value)
    if parsed is None:
        words = ", ".join(sorted(TRUE_WORDS | FALSE_WORDS))
        return CheckResult.fail(check, observed, word, detail=f"{name} is not a boolean (expected one of {words})",
                                evidence=_evidence(variables))
    return CheckResult.judge(check, parsed is expected, observed, word, evidence=_evidence(variables))


def check_at_most(variables: Variables, lower: str, upper: str) -> CheckResult:
    """Two integer settings in order, such as DB_POOL_MIN_SIZE <= DB_POOL_MAX_SIZE."""
    check = f"{lower} <= {upper}"
    numbers: dict[str, int] = {}
    observed: dict[str, str] = {}
    problems: list[str] = []
    for name in (lower, upper):
        value = variables.get(name)
        observed[name] = shown(variables, name, value)
        if value is None:
            problems.append(f"{name} is not set")
            continue
        try:
            numbers[name] = int(value.strip())
        except ValueError:
            problems.append(f"{name} is not an integer")
    if problems:
        return CheckResult.fail(check, observed, f"integers with {lower} <= {upper}", detail="; ".join(problems),
                                evidence=_evidence(variables))
    return CheckResult.judge(check, numbers[lower] <= numbers[upper], observed, f"{lower} <= {upper}",
                             evidence=_evidence(variables))


def check_dotenv_defines(path: Path, names: Iterable[str], secret_names: Iterable[str] = ()) -> CheckResult:
    """A dotenv file exists and sets every one of ``names`` to a real value."""
    wanted = list(names)
    check = f"dotenv file {path} defines {', '.join(wanted)}"
    try:
        variables = from_dotenv(path, secret_names)
    except FileNotFoundError:
        return CheckResult.fail(check, "file not found", f"{path} with {', '.join(wanted)}",
                                detail=f"{path} does not exist")
    result = check_all_set(variables, wanted)
    result.name = check
    return result
