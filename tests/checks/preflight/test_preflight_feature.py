"""The preflight and HTTP step phrases, run from a .feature file against real servers and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.preflight_servers import Behaviour, Route

API_KEY = "sk-ant-api03-" + "Zq4Lw8Np2Rt6Vx0Bc3Df7Gh1Jk5Mn9" * 3
JWT_SECRET = "jwt-Secret-Value-For-Preflight-4411"

RUNBOOK = """
name: local
secrets: [PREFLIGHT_JWT]
services:
  - name: demo-api
    base_url: {http_url}
  - name: secure-api
    base_url: {https_url}
  - name: expiring-api
    base_url: {expiring_url}
targets:
  - name: app-host
    kind: host
    url: local://
database:
  dsn: {dsn}
"""

PASSING = """
Feature: Preflight
  @preflight
  Scenario: environment
    Given the environment variables "ANTHROPIC_API_KEY, PREFLIGHT_JWT" are set and not placeholders
    And at least one of "ANTHROPIC_API_KEY, OPENAI_API_KEY, GEMINI_API_KEY" is set
    And the environment variable "DATABASE_URL" is a PostgreSQL DSN
    And the environment variable "SUPABASE_URL" is a URL
    And the environment variable "CORS_ORIGINS" is a list of URLs
    And the environment variable "DB_POOL_MAX_SIZE" is an integer between 1 and 100
    And "DB_POOL_MIN_SIZE" is at most "DB_POOL_MAX_SIZE"
    And "LOG_LEVEL" is one of "DEBUG, INFO, WARNING, ERROR"
    And "DEBUG_MODE" is false
    And "METRICS_ENABLED" is true
    And "PREFLIGHT_NOT_SET_FLAG" is false or not set

  @preflight
  Scenario: dotenv file
    Given the dotenv file ".env.production" defines "DATABASE_URL, LOG_LEVEL"
    And the environment variables are read from the dotenv file ".env.production"
    And the environment variable "LOG_LEVEL" is one of "INFO, WARNING"
    And the environment variable "DATABASE_URL" is set

  @preflight
  Scenario: machine
    Given "git" is installed at version 2.0 or later
    And "python3" is installed
    And "git" is installed on the host "app-host"
    And the host has at least 1 CPU cores
    And the host "local://" has at least 0.1 GB of memory
    And the host "app-host" has at least 0.01 GB free disk at "/"
    And the Docker daemon is reachable at version 1.0 or later
    And the Docker daemon has at least 0.01 GB free disk for images
    And the DNS name "localhost" resolves
    And port {pg_port} on "127.0.0.1" is open
    And the file "infrastructure/config/production.yaml" exists and is valid YAML
    And the files "config.json, README.txt" exist

  @preflight
  Scenario: database
    Given the database accepts connections
    And the database has the extension "plpgsql" installed
    And the database has the extension "pgcrypto" available
    And the database server is at version 10 or later

  @smoke
  Scenario: endpoints
    Then "demo-api" answers GET "/health" with status 200 within 10 seconds
    And the JSON field "status" of "demo-api" "/health" is "healthy"
    And the JSON field "projections[].status" of "demo-api" "/health" is "running"
    And the JSON of "demo-api" "/health" has the fields "version, projections"
    And "demo-api" answers GET "/health" in under 2000 ms
    And CORS on "demo-api" allows the origin "https://app.example.com"
    And CORS on "demo-api" allows the origins in "CORS_ORIGINS"
    And CORS on "demo-api" does not allow the origin "https://evil.example.net"
    And "demo-api" sends the security headers "X-Content-Type-Options, X-Frame-Options"
    And "{http_url}" answers GET "/health" with status 200
    And the certificate of "secure-api" is valid for at least 14 days
"""

FAILING = """
Feature: Preflight failures
  Scenario: placeholder key
    Given the environment variable "OPENAI_API_KEY" is set

  Scenario: debug on
    Given "DEBUG_MODE" is false

  Scenario: timescale
    Given the database has the extension "timescaledb" available

  Scenario: certificate too short
    Then the certificate of "expiring-api" is valid for at least 14 days

  Scenario: unknown service
    Then "nope-api" answers GET "/health" with status 200

  Scenario: never healthy
    Then "demo-api" answers GET "/never" with status 200 within 1 seconds
"""


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, pg_clusters: Any, certificates: Any) -> None:
    values = {
        "ANTHROPIC_API_KEY": API_KEY,
        "OPENAI_API_KEY": "sk-...",
        "PREFLIGHT_JWT": JWT_SECRET,
        "DATABASE_URL": pg_clusters.plain.dsn,
        "SUPABASE_URL": "https://abc.supabase.co",
        "CORS_ORIGINS": "https://app.example.com,https://www.example.com",
        "DB_POOL_MIN_SIZE": "10",
        "DB_POOL_MAX_SIZE": "50",
        "LOG_LEVEL": "INFO",
        "DEBUG_MODE": "false",
        "METRICS_ENABLED": "true",
        "SSL_CERT_FILE": str(certificates.ca),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PREFLIGHT_NOT_SET_FLAG", raising=False)


@pytest.fixture
def project(
    rg_project: Callable[..., pytest.Pytester],
    http_server: Any,
    https_server: Any,
    certificates: Any,
    pg_clusters: Any,
    environment: None,
) -> Callable[[str], pytest.Pytester]:
    behaviour: Behaviour = http_server.behaviour
    behaviour.routes["/health"] = Route(200, {
        "status": "healthy", "version": "1.1.0",
        "projections": [{"name": "orders", "status": "running"}, {"name": "users", "status": "running"}],
    }, unavailable_first=2)
    behaviour.cors_origins = ["https://app.example.com", "https://www.example.com"]
    behaviour.headers = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}
    secure = https_server(certificates.valid)
    expiring = https_server(certificates.short_lived)

    def make(feature: str) -> pytest.Pytester:
        runbook = RUNBOOK.format(http_url=http_server.url, https_url=secure.url.replace("127.0.0.1", "localhost"),
                                 expiring_url=expiring.url, dsn=pg_clusters.plain.dsn)
        text = feature.replace("{pg_port}", str(pg_clusters.plain.port)).replace("{http_url}", http_server.url)
        pytester = rg_project(runbooks={"local": runbook}, features={"preflight": text})
        root = pytester.path
        (root / ".env.production").write_text("DATABASE_URL=postgresql://app:Dotenv-Pw-31@db:5432/app\nLOG_LEVEL=INFO\n")
        (root / "infrastructure/config").mkdir(parents=True)
        (root / "infrastructure/config/production.yaml").write_text("database:\n  pool: 10\n")
        (root / "config.json").write_text(json.dumps({"ok": True}))
        (root / "README.txt").write_text("notes\n")
        return pytester

    return make


def _all_output(pytester: pytest.Pytester, result: pytest.RunResult) -> str:
    texts = [str(result.stdout), str(result.stderr)]
    for path in Path(pytester.path).rglob("*"):
        if path.is_file() and path.suffix in (".xml", ".json", ".txt", ".properties"):
            texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


def test_passing_preflight(project: Callable[[str], pytest.Pytester]) -> None:
    pytester = project(PASSING)
    result = pytester.runpytest("features/preflight.feature", "--env", "local", "-v",
                                "--junitxml", "junit.xml")
    result.assert_outcomes(passed=5)
    output = _all_output(pytester, result)
    for secret in (API_KEY, JWT_SECRET, "Dotenv-Pw-31"):
        assert secret not in output
    junit = (pytester.path / "junit.xml").read_text()
    assert "set (masked)" in junit
    assert "/health answers 200: PASS (observed 200, expected 200) [3 attempts" in junit  # 503 twice, then 200


def test_failures_explain_themselves(
    project: Callable[[str], pytest.Pytester], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEBUG_MODE", "true")
    pytester = project(FAILING)
    result = pytester.runpytest("features/preflight.feature", "--env", "local", "-v")
    result.assert_outcomes(failed=6)
    result.stdout.fnmatch_lines_random([
        "*OPENAI_API_KEY looks like a placeholder: contains an ellipsis*",
        "*environment variable DEBUG_MODE is false: FAIL (observed true, expected false)*",
        "*extension timescaledb available: FAIL (observed not available*",
        "*expires in *days*",
        "*no service named 'nope-api' in runbook 'local'*",
        "*answers 200: FAIL (observed 404, expected 200)*still not passing after 1s*attempts*",
    ])
