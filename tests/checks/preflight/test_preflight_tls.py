from __future__ import annotations

import datetime as dt
from typing import Any

from releasegate.checks.preflight import tls
from releasegate.checks.result import Outcome


def test_valid_certificate(certificates: Any, https_server: Any) -> None:
    server = https_server(certificates.valid)
    result = tls.check_certificate(server.url, 14, ca_file=str(certificates.ca))
    assert result.passed, result.summary()
    assert 89 < result.evidence["days_left"] <= 90
    assert "127.0.0.1" in result.evidence["ip_addresses"]


def test_localhost_name_matches_the_dns_san(certificates: Any, https_server: Any) -> None:
    server = https_server(certificates.valid)
    assert tls.check_certificate(f"https://localhost:{server.port}/health", 14, ca_file=str(certificates.ca)).passed


def test_not_enough_days_left(certificates: Any, https_server: Any) -> None:
    server = https_server(certificates.short_lived)
    result = tls.check_certificate(server.url, 14, ca_file=str(certificates.ca))
    assert result.outcome is Outcome.FAIL
    assert "expires in 4." in result.detail or "expires in 5." in result.detail
    assert tls.check_certificate(server.url, 3, ca_file=str(certificates.ca)).passed


def test_expired_certificate(certificates: Any, https_server: Any) -> None:
    server = https_server(certificates.expired)
    result = tls.check_certificate(server.url, 1, ca_file=str(certificates.ca))
    assert result.outcome is Outcome.FAIL
    assert "expired on" in result.detail
    assert result.evidence["days_left"] < -9


def test_certificate_for_another_host(certificates: Any, https_server: Any) -> None:
    server = https_server(certificates.wrong_host)
    result = tls.check_certificate(server.url, 1, ca_file=str(certificates.ca))
    assert result.outcome is Outcome.FAIL
    assert "does not name 127.0.0.1" in result.detail and "api.other.test" in result.detail


def test_untrusted_issuer(certificates: Any, https_server: Any) -> None:
    server = https_server(certificates.valid)
    result = tls.check_certificate(server.url, 1)  # the system store does not know the test CA
    assert result.outcome is Outcome.FAIL
    assert "chain not trusted" in result.detail


def test_days_are_counted_from_now(certificates: Any, https_server: Any) -> None:
    server = https_server(certificates.valid)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=80)
    result = tls.check_certificate(server.url, 14, ca_file=str(certificates.ca), now=later)
    assert result.outcome is Outcome.FAIL and "expires in" in result.detail


def test_plain_http_server_is_a_failed_handshake(http_server: Any) -> None:
    result = tls.check_certificate(http_server.url.replace("http://", "https://"), 1, timeout_s=3)
    assert result.outcome is Outcome.FAIL and result.observed == "no certificate"


def test_wildcard_matching() -> None:
    cert = tls.Certificate("CN=x", "CN=ca", dt.datetime.now(dt.UTC), dt.datetime.now(dt.UTC), ("*.example.com",), (),
                           None, 1)
    assert tls.matches_host(cert, "api.example.com")
    assert not tls.matches_host(cert, "example.com")
    assert not tls.matches_host(cert, "a.b.example.com")
