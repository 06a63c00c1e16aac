from __future__ import annotations

from typing import Any

from releasegate.checks.database import server as postgres
from releasegate.checks.result import Outcome


def test_accepts_connections(pg_clusters: Any) -> None:
    result = postgres.check_connects(pg_clusters.plain.dsn)
    assert result.passed, result.summary()
    assert result.observed == "connected as postgres to postgres"
    assert pg_clusters.plain.password not in result.to_json()


def test_wrong_password_and_closed_port_fail_without_the_password(pg_clusters: Any) -> None:
    wrong = postgres.check_connects(pg_clusters.plain.dsn_for("postgres", password="Wrong-Password-42"))
    assert wrong.outcome is Outcome.FAIL
    assert "authentication failed" in wrong.detail
    assert "Wrong-Password-42" not in wrong.to_json()
    closed = postgres.check_connects("postgresql://app:Closed-Port-Pw-9@127.0.0.1:56048/app", timeout_s=2)
    assert closed.outcome is Outcome.FAIL and "Closed-Port-Pw-9" not in closed.to_json()


def test_ssl_required(pg_clusters: Any) -> None:
    assert postgres.check_connects(pg_clusters.ssl.dsn + "?sslmode=require", require_ssl=True).passed
    plain = postgres.check_connects(pg_clusters.plain.dsn, require_ssl=True)
    assert plain.outcome is Outcome.FAIL and "not encrypted" in plain.detail


def test_uses_ssl(pg_clusters: Any) -> None:
    required = postgres.check_uses_ssl(pg_clusters.ssl.dsn + "?sslmode=require")
    assert required.passed and required.evidence["ssl_version"].startswith("TLS")
    assert required.detail == ""
    preferred = postgres.check_uses_ssl(pg_clusters.ssl.dsn)
    assert preferred.passed and "fall back to plain text" in preferred.detail
    plain = postgres.check_uses_ssl(pg_clusters.plain.dsn)
    assert plain.outcome is Outcome.FAIL and plain.observed == "no SSL"
    refused = postgres.check_uses_ssl(pg_clusters.plain.dsn + "?sslmode=require")
    assert refused.outcome is Outcome.INCONCLUSIVE


def test_extensions(pg_clusters: Any) -> None:
    dsn = pg_clusters.plain.dsn
    assert postgres.check_extension(dsn, "pgcrypto").passed
    not_installed = postgres.check_extension(dsn, "pgcrypto", installed=True)
    assert not_installed.outcome is Outcome.FAIL and "CREATE EXTENSION pgcrypto" in not_installed.detail
    assert postgres.check_extension(dsn, "plpgsql", installed=True).passed
    timescale = postgres.check_extension(dsn, "timescaledb")
    assert timescale.outcome is Outcome.FAIL and timescale.observed == "not available"


def test_extension_installed_after_create_extension(pg_clusters: Any) -> None:
    cluster = pg_clusters.ssl
    cluster.create_database("preflight_ext")
    cluster.psql("CREATE EXTENSION IF NOT EXISTS pgcrypto", database="preflight_ext")
    result = postgres.check_extension(cluster.dsn_for("preflight_ext"), "pgcrypto", installed=True)
    assert result.passed, result.summary()
    assert result.evidence["installed_version"]


def test_server_version(pg_clusters: Any) -> None:
    major = int(pg_clusters.plain.psql("SHOW server_version_num")) // 10000
    assert postgres.check_server_version(pg_clusters.plain.dsn, str(major)).passed
    assert postgres.check_server_version(pg_clusters.plain.dsn, f"{major - 1}.99").passed
    assert postgres.check_server_version(pg_clusters.plain.dsn, str(major + 1)).outcome is Outcome.FAIL
    assert postgres.check_server_version(pg_clusters.plain.dsn, "latest").outcome is Outcome.INCONCLUSIVE
