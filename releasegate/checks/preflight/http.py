"""HTTP endpoints: status, JSON fields, response time, CORS, security headers (through ``_support.http``).

An endpoint that does not answer at all gives FAIL (the service is not serving), with the
transport error in the detail. Response bodies in evidence are cut to 2,000 characters and
redacted.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from typing import Any

import httpx

from releasegate.checks import secrets
from releasegate.checks._support.http import client as http_client
from releasegate.checks.result import CheckResult

BODY_LIMIT = 2000
DEFAULT_TIMEOUT_S = 10.0

# What "the recommended security headers" means, and what a present header's value must look like.
RECOMMENDED_HEADERS = (
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Content-Security-Policy",
    "Referrer-Policy",
)
_HEADER_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "strict-transport-security": (re.compile(r"max-age=\s*\"?[1-9]\d*", re.IGNORECASE), "max-age greater than 0"),
    "x-content-type-options": (re.compile(r"^\s*nosniff\s*$", re.IGNORECASE), "nosniff"),
    "x-frame-options": (re.compile(r"^\s*(deny|sameorigin)\s*$", re.IGNORECASE), "DENY or SAMEORIGIN"),
    "referrer-policy": (
        re.compile(r"^\s*(no-referrer|no-referrer-when-downgrade|same-origin|origin|strict-origin|"
                   r"origin-when-cross-origin|strict-origin-when-cross-origin)\s*(,.*)?$", re.IGNORECASE),
        "a referrer policy other than unsafe-url",
    ),
    "content-security-policy": (re.compile(r"\S"), "a non-empty policy"),
}


def join_url(base_url: str, path: str) -> str:
    if not path:
        return base_url
    if re.match(r"^https?://", path):
        return path
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def request(
    url: str,
    method: str = "GET",
    *,
    headers: dict[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    verify: bool | str = True,
) -> httpx.Response:
    with http_client(timeout_s=timeout_s, verify=verify) as client:
        response = client.request(method, url, headers=headers)
        response.read()
        return response


def _no_answer(name: str, url: str, expected: Any, exc: Exception) -> CheckResult:
    reason = secrets.redact(str(exc).strip() or type(exc).__name__)
    where = secrets.redact(url)
    return CheckResult.fail(name, "no answer", expected, detail=f"{where}: {type(exc).__name__}: {reason}",
                            evidence={"url": where})


def _body(response: httpx.Response) -> str:
    text = response.text
    return secrets.redact(text[:BODY_LIMIT] + ("..." if len(text) > BODY_LIMIT else ""))


def _evidence(url: str, response: httpx.Response, **extra: Any) -> dict[str, Any]:
    return {
        "url": secrets.redact(url),
        "method": response.request.method,
        "status": response.status_code,
        "elapsed_ms": round(response.elapsed.total_seconds() * 1000, 1),
        "headers": {k: secrets.redact(v) for k, v in response.headers.items()},
        "body": _body(response),
        **extra,
    }


def check_status(url: str, status: int = 200, method: str = "GET", *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 verify: bool | str = True) -> CheckResult:
    name = f"{method} {secrets.redact(url)} answers {status}"
    try:
        response = request(url, method, timeout_s=timeout_s, verify=verify)
    except httpx.HTTPError as exc:
        return _no_answer(name, url, status, exc)
    return CheckResult.judge(name, response.status_code == status, response.status_code, status,
                             evidence=_evidence(url, response))


class JsonPathError(LookupError):
    pass


def json_values(data: Any, path: str) -> list[Any]:
    """Values at a path such as ``status``, ``db.status``, ``items[0].name`` or ``projections[].status``.

    ``[]`` fans out over every element of a list, so one path can name many values.
    """
    values = [data]
    walked = ""
    for part in [p for p in path.split(".") if p]:
        match = re.fullmatch(r"(?P<key>[^\[\]]*)(?P<index>(\[\d*\])*)", part)
        if match is None:
            raise JsonPathError(f"{path!r} is not a JSON path such as a.b, items[0].name or items[].status")
        key, indexes = match.group("key"), re.findall(r"\[(\d*)\]", match.group("index"))
        if key:
            walked = f"{walked}.{key}" if walked else key
            next_values = []
            for value in values:
                if not isinstance(value, dict) or key not in value:
                    raise JsonPathError(f"no field {walked!r}")
                next_values.append(value[key])
            values = next_values
        for index in indexes:
            walked += f"[{index}]"
            next_values = []
            for value in values:
                if not isinstance(value, list):
                    raise JsonPathError(f"{walked!r}: not a list")
                if index == "":
                    next_values.extend(value)
                elif int(index) < len(value):
                    next_values.append(value[int(index)])
                else:
                    raise JsonPathError(f"{walked!r}: the list has {len(value)} elements")
            values = next_values
    return values


def rendered(value: Any) -> str:
    """How a JSON value is compared with the text of a step: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _json_of(url: str, name: str, expected: Any, timeout_s: float,
             verify: bool | str) -> tuple[Any, httpx.Response | None, CheckResult | None]:
    try:
        response = request(url, timeout_s=timeout_s, verify=verify)
    except httpx.HTTPError as exc:
        return None, None, _no_answer(name, url, expected, exc)
    try:
        return response.json(), response, None
    except ValueError:
        return None, response, CheckResult.fail(name, f"not JSON (status {response.status_code})", expected,
                                                evidence=_evidence(url, response))


def check_json_field(url: str, path: str, expected: str, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                     verify: bool | str = True) -> CheckResult:
    """Every value at ``path`` in the JSON answer of ``url`` equals ``expected`` (compared as text)."""
    name = f"JSON field {path} of {secrets.redact(url)} is {expected!r}"
    data, response, problem = _json_of(url, name, expected, timeout_s, verify)
    if problem is not None or response is None:
        return problem or CheckResult.unknown(name, "no response", expected)
    try:
        values = json_values(data, path)
    except JsonPathError as exc:
        return CheckResult.fail(name, "missing", expected, detail=str(exc), evidence=_evidence(url, response))
    if not values:
        return CheckResult.fail(name, "no values (empty list)", expected, detail=f"{path} matched nothing",
                                evidence=_evidence(url, response))
    texts = [rendered(v) for v in values]
    wrong = [t for t in texts if t != expected]
    observed: Any = texts[0] if len(texts) == 1 else texts
    detail = f"{len(wrong)} of {len(texts)} values differ" if wrong and len(texts) > 1 else ""
    return CheckResult.judge(name, not wrong, observed, expected, detail=detail,
                             evidence=_evidence(url, response, path=path))


def check_json_fields_present(url: str, paths: list[str], *, timeout_s: float = DEFAULT_TIMEOUT_S,
                              verify: bool | str = True) -> CheckResult:
    name = f"JSON of {secrets.redact(url)} has {', '.join(paths)}"
    data, response, problem = _json_of(url, name, paths, timeout_s, verify)
    if problem is not None or response is None:
        return problem or CheckResult.unknown(name, "no response", paths)
    missing = []
    for path in paths:
        try:
            json_values(data, path)
        except JsonPathError:
            missing.append(path)
    present = [p for p in paths if p not in missing]
    return CheckResult.judge(name, not missing, present, paths,
                             detail=f"missing: {', '.join(missing)}" if missing else "",
                             evidence=_evidence(url, response))


def check_response_time(url: str, max_ms: float, *, samples: int = 3, method: str = "GET",
                        timeout_s: float = DEFAULT_TIMEOUT_S, verify: bool | str = True) -> CheckResult:
    """The median time of ``samples`` requests is under ``max_ms``; each must answer below 500."""
    name = f"{method} {secrets.redact(url)} answers in under {max_ms:g} ms"
    expected = f"median < {max_ms:g} ms over {samples} requests"
    timings: list[float] = []
    statuses: list[int] = []
    with http_client(timeout_s=timeout_s, verify=verify) as client:
        for _ in range(max(1, samples)):
            start = time.perf_counter()
            try:
                response = client.request(method, url)
                response.read()
            except httpx.HTTPError as exc:
                return _no_answer(name, url, expected, exc)
            timings.append(round((time.perf_counter() - start) * 1000, 1))
            statuses.append(response.status_code)
    median = statistics.median(timings)
    errors = [s for s in statuses if s >= 500]
    detail = f"server errors: {errors}" if errors else ""
    return CheckResult.judge(name, median < max_ms and not errors, f"median {median:.1f} ms", expected,
                             detail=detail, evidence={"url": secrets.redact(url), "timings_ms": timings,
                                                      "statuses": statuses})


def check_cors(url: str, origin: str, method: str = "GET", *, allowed: bool = True,
               timeout_s: float = DEFAULT_TIMEOUT_S, verify: bool | str = True) -> CheckResult:
    """A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) allows ``origin``.

    With ``allowed=False`` the origin must be refused (no matching Access-Control-Allow-Origin).
    """
    verb = "allows" if allowed else "does not allow"
    name = f"CORS on {secrets.redact(url)} {verb} {origin}"
    expected = f"Access-Control-Allow-Origin: {origin}" if allowed else f"no Access-Control-Allow-Origin for {origin}"
    headers = {"Origin": origin, "Access-Control-Request-Method": method.upper()}
    try:
        response = request(url, "OPTIONS", headers=headers, timeout_s=timeout_s, verify=verify)
    except httpx.HTTPError as exc:
        return _no_answer(name, url, expected, exc)
    allow_origin = response.headers.get("access-control-allow-origin")
    allow_methods = response.headers.get("access-control-allow-methods")
    credentials = response.headers.get("access-control-allow-credentials")
    origin_ok = allow_origin is not None and allow_origin.strip() in (origin, "*")
    methods = {m.strip().upper() for m in (allow_methods or "").split(",") if m.strip()}
    method_ok = not methods or "*" in methods or method.upper() in methods
    cors_headers = {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-") or
                    k.lower() == "vary"}
    evidence = {"url": secrets.redact(url), "request_headers": headers, "status": response.status_code,
                "response_headers": cors_headers}
    observed = (
        f"Access-Control-Allow-Origin: {allow_origin}" if allow_origin is not None else "no Access-Control-Allow-Origin"
    )
    if not allowed:
        return CheckResult.judge(name, not origin_ok, observed, expected, evidence=evidence,
                                 detail="" if not origin_ok else f"{origin} is allowed but should not be")
    problems = []
    if not origin_ok:
        problems.append(f"{origin} is not allowed")
    if origin_ok and not method_ok:
        problems.append(f"{method.upper()} is not in Access-Control-Allow-Methods ({allow_methods})")
    if response.status_code >= 400:
        problems.append(f"the preflight answered {response.status_code}")
    notes = []
    if allow_origin == "*" and (credentials or "").lower() == "true":
        notes.append("'*' with credentials is refused by browsers")
    return CheckResult.judge(name, not problems, observed, expected, detail="; ".join(problems + notes),
                             evidence=evidence)


def check_security_headers(url: str, names: list[str] | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                           verify: bool | str = True) -> CheckResult:
    """The response carries each header (default: ``RECOMMENDED_HEADERS``) with a sensible value."""
    wanted = list(names or RECOMMENDED_HEADERS)
    name = f"{secrets.redact(url)} sends security headers {', '.join(wanted)}"
    try:
        response = request(url, timeout_s=timeout_s, verify=verify)
    except httpx.HTTPError as exc:
        return _no_answer(name, url, wanted, exc)
    found: dict[str, str] = {}
    problems: list[str] = []
    for header in wanted:
        value = response.headers.get(header)
        if value is None:
            problems.append(f"{header} missing")
            continue
        found[header] = value
        rule = _HEADER_RULES.get(header.lower())
        if rule is not None and not rule[0].search(value):
            problems.append(f"{header} is {value!r}, expected {rule[1]}")
    notes = []
    if url.startswith("http://") and any(h.lower() == "strict-transport-security" for h in wanted):
        notes.append("browsers ignore Strict-Transport-Security over plain http")
    return CheckResult.judge(name, not problems, found, wanted, detail="; ".join(problems + notes),
                             evidence={"url": secrets.redact(url), "status": response.status_code,
                                       "headers": {k: secrets.redact(v) for k, v in response.headers.items()}})
