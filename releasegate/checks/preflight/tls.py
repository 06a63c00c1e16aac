"""TLS certificates of HTTPS endpoints: valid for at least N more days, for the right host name, trusted.

The certificate is read once without verification (so that an expired or mismatched one can
still be described), then the chain is verified in a second handshake against the system CA
store (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` add CAs) or ``ca_file``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.x509.oid import NameOID

from releasegate.checks.result import CheckResult


@dataclass(frozen=True)
class Certificate:
    subject: str
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    common_name: str | None
    serial: int


def endpoint(url: str) -> tuple[str, int]:
    """Host and port of an https URL (or a bare ``host:port``)."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host name; expected https://host[:port]")
    return parts.hostname, parts.port or 443


def fetch_certificate(host: str, port: int, timeout_s: float = 5) -> Certificate:
    """The leaf certificate the server presents, read without verifying it."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout_s) as sock, \
            context.wrap_socket(sock, server_hostname=_sni(host)) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError(f"{host}:{port} presented no certificate")
    return describe(x509.load_der_x509_certificate(der))


def describe(cert: x509.Certificate) -> Certificate:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = tuple(san.get_values_for_type(x509.DNSName))
        ip_addresses = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns_names, ip_addresses = (), ()
    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return Certificate(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        common_name=str(common_names[0].value) if common_names else None,
        serial=cert.serial_number,
    )


def _sni(host: str) -> str | None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return None


def _dns_match(pattern: str, host: str) -> bool:
    """RFC 6125: exact match, or a wildcard standing for the whole left-most label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True
    if pattern.startswith("*.") and "*" not in pattern[2:]:
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:] and rest.count(".") >= 1
    return False


def matches_host(cert: Certificate, host: str) -> bool:
    """The certificate names ``host`` (IP addresses only in IP SANs; CN only when there is no SAN)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        return any(ipaddress.ip_address(ip) == address for ip in cert.ip_addresses)
    names = cert.dns_names or ((cert.common_name,) if cert.common_name and not cert.ip_addresses else ())
    return any(_dns_match(name, host) for name in names)


def verify_chain(host: str, port: int, ca_file: str | None = None, timeout_s: float = 5) -> str | None:
    """None when the chain verifies against the trusted CAs, else the reason it does not."""
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False  # the host name is judged separately, with a clearer message
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock, \
                context.wrap_socket(sock, server_hostname=_sni(host)):
            return None
    except ssl.SSLCertVerificationError as exc:
        return str(exc.verify_message or exc.reason or exc)
    except ssl.SSLError as exc:
        return str(exc.reason or exc)


def check_certificate(
    url: str,
    min_days: float,
    *,
    ca_file: str | None = None,
    now: dt.datetime | None = None,
    timeout_s: float = 5,
) -> CheckResult:
    """The certificate of ``url`` is valid now and for ``min_days`` more, names the host and is trusted."""
    name = f"TLS certificate of {url} valid for at least {min_days:g} days"
    expected = f">= {min_days:g} days left, matches the host name, trusted chain"
    try:
        host, port = endpoint(url)
    except ValueError as exc:
        return CheckResult.unknown(name, str(exc), expected)
    try:
        cert = fetch_certificate(host, port, timeout_s)
    except (OSError, ssl.SSLError) as exc:
        return CheckResult.fail(name, "no certificate", expected,
                                detail=f"TLS handshake with {host}:{port} failed: {exc}",
                                evidence={"host": host, "port": port})
    moment = now or dt.datetime.now(dt.UTC)
    days_left = (cert.not_after - moment).total_seconds() / 86400
    problems: list[str] = []
    if cert.not_before > moment:
        problems.append(f"not valid before {cert.not_before.isoformat()}")
    if days_left < 0:
        problems.append(f"expired on {cert.not_after.isoformat()}")
    elif days_left < min_days:
        problems.append(f"expires in {days_left:.1f} days, on {cert.not_after.isoformat()}")
    host_ok = matches_host(cert, host)
    if not host_ok:
        names = ", ".join([*cert.dns_names, *cert.ip_addresses]) or f"CN={cert.common_name}"
        problems.append(f"does not name {host} (names: {names})")
    chain_problem = verify_chain(host, port, ca_file, timeout_s)
    if chain_problem is not None:
        problems.append(f"chain not trusted: {chain_problem}")
    observed = f"{days_left:.1f} days left, host {'matches' if host_ok else 'does not match'}, " + (
        "trusted" if chain_problem is None else "not trusted"
    )
    evidence = {
        "host": host,
        "port": port,
        "subject": cert.subject,
        "issuer": cert.issuer,
        "not_before": cert.not_before.isoformat(),
        "not_after": cert.not_after.isoformat(),
        "days_left": round(days_left, 2),
        "dns_names": list(cert.dns_names),
        "ip_addresses": list(cert.ip_addresses),
        "serial": hex(cert.serial),
        "ca_file": ca_file,
    }
    return CheckResult.judge(name, not problems, observed, expected, detail="; ".join(problems), evidence=evidence)
