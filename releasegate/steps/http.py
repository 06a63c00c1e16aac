"""HTTP and TLS steps about a service's endpoints: status, JSON fields, timing, CORS, headers, certificate.

A service is a name from the runbook's ``services`` (its ``base_url`` is used) or a literal
http(s) URL. Every phrase may end with " within N seconds". The HTTP checks verify HTTPS with
httpx's trust (certifi's bundle; ``SSL_CERT_FILE`` replaces it); the certificate check verifies the
chain against the system CA store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pytest_bdd import step

from releasegate.checks.errors import NotInRunbook
from releasegate.checks.preflight import envvars, http, tls
from releasegate.checks.preflight.envvars import Variables
from releasegate.checks.result import CheckResult, combine
from releasegate.checks.runbook.model import Runbook
from releasegate.plugins.dryrun import read_only, read_only_when
from releasegate.plugins.evidence import Evidence
from releasegate.steps._phrases import is_url, run, run_on, split_list, unknown_name, within_phrase

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")  # RFC 9110 9.2.1: they change nothing on the server


def _safe_method(arguments: Mapping[str, Any], runbook: Runbook | None) -> str | None:
    method = str(arguments["method"]).upper()
    return None if method in SAFE_METHODS else f"sends an HTTP {method} request"


def _resolve(runbook: Runbook, target: str, path: str | None, check: str) -> str | CheckResult:
    """The URL of ``path`` on a runbook service or literal URL; ``path`` None means the service's health path."""
    if is_url(target):
        return http.join_url(target, path) if path is not None else target
    try:
        service = runbook.service(target)
    except NotInRunbook as exc:
        return unknown_name(check, f"{exc}; name a service or write a URL such as https://api.example.com")
    return http.join_url(service.base_url, path if path is not None else service.health)


def _require(evidence: Evidence, runbook: Runbook, target: str, path: str | None, check: str,
             make: Callable[[str], CheckResult], within: float | None) -> None:
    evidence.require(run_on(_resolve(runbook, target, path, check), make, within))


@step(within_phrase('"{target}" answers {method} "{path}" with status {status:d}'))
@read_only_when(_safe_method)
def answers_with_status(
    target: str, method: str, path: str, status: int, runbook: Runbook, evidence: Evidence,
    within: float | None = None,
) -> None:
    """The endpoint answers the request with this HTTP status."""
    verb = method.upper()
    if verb not in METHODS:
        evidence.require(unknown_name(f"{target} {method} {path}", f"unknown HTTP method {method!r};"
                                      f" use one of {', '.join(METHODS)}"))
    _require(evidence, runbook, target, path, f"{target} {verb} {path}",
             lambda url: http.check_status(url, status, verb), within)


@step(within_phrase('the JSON field "{field}" of "{target}" "{path}" is "{value}"'))
@read_only
def json_field_is(
    field: str, target: str, path: str, value: str, runbook: Runbook, evidence: Evidence,
    within: float | None = None,
) -> None:
    """Every value at the JSON path (status, db.status, projections[].status) equals the text."""
    _require(evidence, runbook, target, path, f"JSON field {field} of {target} {path}",
             lambda url: http.check_json_field(url, field, value), within)


@step(within_phrase('the JSON of "{target}" "{path}" has the fields "{fields}"'))
@read_only
def json_has_fields(
    target: str, path: str, fields: str, runbook: Runbook, evidence: Evidence, within: float | None = None
) -> None:
    """Each JSON path of a comma-separated list is present in the answer."""
    _require(evidence, runbook, target, path, f"JSON of {target} {path}",
             lambda url: http.check_json_fields_present(url, split_list(fields)), within)


@step(within_phrase('"{target}" answers GET "{path}" in under {ms:g} ms'))
@read_only
def answers_in_under(
    target: str, path: str, ms: float, runbook: Runbook, evidence: Evidence, within: float | None = None
) -> None:
    """The median of three GET requests takes less than the limit, without server errors."""
    _require(evidence, runbook, target, path, f"{target} GET {path} time",
             lambda url: http.check_response_time(url, ms), within)


@step(within_phrase('CORS on "{target}" allows the origin "{origin}"'))
@read_only
def cors_allows(target: str, origin: str, runbook: Runbook, evidence: Evidence, within: float | None = None) -> None:
    """An OPTIONS preflight from the origin (on the service's health path) is allowed."""
    _require(evidence, runbook, target, None, f"CORS on {target}", lambda url: http.check_cors(url, origin), within)


@step(within_phrase('CORS on "{target}" does not allow the origin "{origin}"'))
@read_only
def cors_refuses(target: str, origin: str, runbook: Runbook, evidence: Evidence, within: float | None = None) -> None:
    """An OPTIONS preflight from the origin gets no matching Access-Control-Allow-Origin."""
    _require(evidence, runbook, target, None, f"CORS on {target}",
             lambda url: http.check_cors(url, origin, allowed=False), within)


@step(within_phrase('CORS on "{target}" allows the origins in "{variable}"'))
@read_only
def cors_allows_configured(
    target: str, variable: str, runbook: Runbook, env_variables: Variables, evidence: Evidence,
    within: float | None = None,
) -> None:
    """Every origin of a comma-separated environment variable (CORS_ORIGINS) is allowed."""
    listed = envvars.check_url_list(env_variables, variable)
    if not listed.passed:
        evidence.require(listed)
    origins = split_list(env_variables.get(variable) or "")

    def check(url: str) -> CheckResult:
        return combine(f"CORS on {target} allows {variable}", [http.check_cors(url, o) for o in origins])

    _require(evidence, runbook, target, None, f"CORS on {target}", check, within)


@step(within_phrase('"{target}" sends the security headers "{names}"'))
@step(within_phrase('"{target}" sends the recommended security headers'))
@read_only
def security_headers(
    target: str, runbook: Runbook, evidence: Evidence, names: str | None = None, within: float | None = None
) -> None:
    """The answer on the health path has each header with a sound value (recommended: HSTS, nosniff, ...)."""
    wanted = split_list(names) if names is not None else None
    _require(evidence, runbook, target, None, f"security headers of {target}",
             lambda url: http.check_security_headers(url, wanted), within)


@step(within_phrase('the certificate of "{target}" is valid for at least {days:d} days'))
@read_only
def certificate_valid(
    target: str, days: int, runbook: Runbook, evidence: Evidence, within: float | None = None
) -> None:
    """The HTTPS certificate has that many days left, names the host and chains to a trusted CA."""
    url = _resolve(runbook, target, "", f"certificate of {target}")
    if isinstance(url, CheckResult):
        evidence.require(url)
        return
    if not url.startswith("https://"):
        evidence.require(unknown_name(f"certificate of {target}", f"{url} is not an https URL: there is no"
                                      " certificate to check"))
    evidence.require(run(lambda: tls.check_certificate(url, days), within))

