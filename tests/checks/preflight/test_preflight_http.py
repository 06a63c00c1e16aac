from __future__ import annotations

from typing import Any

import pytest
from support.preflight_servers import Route

from releasegate.checks.preflight import http
from releasegate.checks.result import Outcome


def test_status(http_server: Any) -> None:
    http_server.behaviour.routes["/health"] = Route(200, {"status": "healthy"})
    http_server.behaviour.routes["/broken"] = Route(503, {"status": "unhealthy"})
    assert http.check_status(http_server.url + "/health").passed
    broken = http.check_status(http_server.url + "/broken")
    assert broken.outcome is Outcome.FAIL and broken.observed == 503
    assert broken.evidence["body"] == '{"status": "unhealthy"}'
    assert http.check_status(http_server.url + "/missing", 404).passed


def test_no_answer_is_a_failure_with_the_reason() -> None:
    result = http.check_status("http://127.0.0.1:1/health", timeout_s=2)
    assert result.outcome is Outcome.FAIL
    assert result.observed == "no answer" and "ConnectError" in result.detail


@pytest.mark.parametrize(
    ("path", "expected", "passed"),
    [
        ("status", "healthy", True),
        ("status", "degraded", False),
        ("version", "1.4.0", True),
        ("checks.db.ok", "true", True),
        ("checks.db.latency_ms", "3", True),
        ("projections[].status", "running", False),
        ("projections[0].status", "running", True),
        ("projections[2].name", "x", False),
        ("nothing", "x", False),
    ],
)
def test_json_field(http_server: Any, path: str, expected: str, passed: bool) -> None:
    http_server.behaviour.routes["/health"] = Route(200, {
        "status": "healthy",
        "version": "1.4.0",
        "checks": {"db": {"ok": True, "latency_ms": 3}},
        "projections": [{"name": "a", "status": "running"}, {"name": "b", "status": "stalled"}],
    })
    result = http.check_json_field(http_server.url + "/health", path, expected)
    assert result.passed is passed, result.summary()


def test_json_fan_out_all_equal_and_differences_counted(http_server: Any) -> None:
    http_server.behaviour.routes["/p"] = Route(200, {"projections": [{"status": "running"}, {"status": "running"}]})
    assert http.check_json_field(http_server.url + "/p", "projections[].status", "running").passed
    http_server.behaviour.routes["/p"] = Route(200, {"projections": [{"status": "running"}, {"status": "failed"}]})
    result = http.check_json_field(http_server.url + "/p", "projections[].status", "running")
    assert result.failed and result.detail == "1 of 2 values differ"
    http_server.behaviour.routes["/p"] = Route(200, {"projections": []})
    assert http.check_json_field(http_server.url + "/p", "projections[].status", "running").failed


def test_json_field_of_a_non_json_answer(http_server: Any) -> None:
    http_server.behaviour.routes["/text"] = Route(200, "OK")
    result = http.check_json_field(http_server.url + "/text", "status", "healthy")
    assert result.failed and result.observed.startswith("not JSON")


def test_json_fields_present(http_server: Any) -> None:
    http_server.behaviour.routes["/health/ai"] = Route(200, {"providers": {"anthropic": "ok"}})
    assert http.check_json_fields_present(http_server.url + "/health/ai", ["providers", "providers.anthropic"]).passed
    missing = http.check_json_fields_present(http_server.url + "/health/ai", ["providers.openai"])
    assert missing.failed and "providers.openai" in missing.detail


def test_response_time(http_server: Any) -> None:
    http_server.behaviour.routes["/fast"] = Route(200, "ok")
    http_server.behaviour.routes["/slow"] = Route(200, "ok", delay_s=0.3)
    assert http.check_response_time(http_server.url + "/fast", 250).passed
    slow = http.check_response_time(http_server.url + "/slow", 250)
    assert slow.outcome is Outcome.FAIL
    assert all(t >= 300 for t in slow.evidence["timings_ms"])


def test_cors_allows_a_configured_origin(http_server: Any) -> None:
    http_server.behaviour.routes["/health"] = Route(200, "ok")
    http_server.behaviour.cors_origins = ["https://app.example.com"]
    url = http_server.url + "/health"
    allowed = http.check_cors(url, "https://app.example.com")
    assert allowed.passed, allowed.summary()
    assert allowed.evidence["request_headers"]["Access-Control-Request-Method"] == "GET"
    refused = http.check_cors(url, "https://evil.example.net")
    assert refused.outcome is Outcome.FAIL and "is not allowed" in refused.detail
    assert http.check_cors(url, "https://evil.example.net", allowed=False).passed
    assert http.check_cors(url, "https://app.example.com", allowed=False).failed


def test_cors_method_must_be_allowed(http_server: Any) -> None:
    http_server.behaviour.cors_origins = ["https://app.example.com"]
    http_server.behaviour.cors_methods = "GET"
    result = http.check_cors(http_server.url + "/", "https://app.example.com", "DELETE")
    assert result.failed and "DELETE is not in Access-Control-Allow-Methods" in result.detail


def test_cors_wildcard(http_server: Any) -> None:
    http_server.behaviour.cors_origins = ["*"]
    result = http.check_cors(http_server.url + "/", "https://anything.example.org")
    assert result.passed and result.observed == "Access-Control-Allow-Origin: *"


def test_security_headers(http_server: Any) -> None:
    http_server.behaviour.routes["/"] = Route(200, "ok")
    http_server.behaviour.headers = {
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": "default-src 'self'",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    full = http.check_security_headers(http_server.url + "/")
    assert full.passed, full.summary()
    assert "ignore Strict-Transport-Security over plain http" in full.detail
    http_server.behaviour.headers = {"X-Content-Type-Options": "sniff-away", "X-Frame-Options": "DENY"}
    partial = http.check_security_headers(http_server.url + "/", ["X-Content-Type-Options", "X-Frame-Options"])
    assert partial.failed and "expected nosniff" in partial.detail
    missing = http.check_security_headers(http_server.url + "/")
    assert missing.failed and "Content-Security-Policy missing" in missing.detail


def test_https_endpoint_with_a_ca_file(certificates: Any, https_server: Any) -> None:
    server = https_server(certificates.valid)
    assert http.check_json_field(server.url + "/health", "status", "healthy", verify=str(certificates.ca)).passed
    untrusted = http.check_status(server.url + "/health")
    assert untrusted.outcome is Outcome.FAIL and "CERTIFICATE_VERIFY_FAILED" in untrusted.detail


def test_json_paths() -> None:
    data = {"a": {"b": [{"c": 1}, {"c": 2}]}}
    assert http.json_values(data, "a.b[].c") == [1, 2]
    assert http.json_values(data, "a.b[1].c") == [2]
    with pytest.raises(http.JsonPathError, match=r"no field 'a\.x'"):
        http.json_values(data, "a.x")
    assert http.join_url("http://h:1/", "/health") == "http://h:1/health"
    assert http.join_url("http://h:1", "https://other/x") == "https://other/x"
