"""Network reachability: a TCP port open, a DNS name resolving, the Docker daemon answering."""

from __future__ import annotations

import os
import socket
import time

from releasegate.checks._support.docker import connected, engine_address
from releasegate.checks._support.hosts import LOCAL_SPEC
from releasegate.checks.errors import describe_error
from releasegate.checks.preflight.tools import minimum_version, parse_version
from releasegate.checks.result import CheckResult


def check_tcp_port(host: str, port: int, timeout_s: float = 3.0) -> CheckResult:
    """A TCP connection to ``host:port`` is accepted within ``timeout_s``."""
    name = f"TCP port {host}:{port} open"
    start = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            peer = sock.getpeername()
    except socket.gaierror as exc:
        return CheckResult.unknown(name, f"{host} does not resolve: {exc.strerror or exc}", "open",
                                   evidence={"host": host, "port": port})
    except TimeoutError:
        return CheckResult.fail(name, f"no answer within {timeout_s:g}s", "open",
                                detail=f"{host}:{port} did not answer (filtered or down)",
                                evidence={"host": host, "port": port, "timeout_s": timeout_s})
    except OSError as exc:
        return CheckResult.fail(name, exc.strerror or str(exc), "open",
                                detail=f"{host}:{port} is not accepting connections",
                                evidence={"host": host, "port": port})
    elapsed_ms = round((time.monotonic() - start) * 1000, 1)
    return CheckResult.ok(name, "open", "open",
                          evidence={"host": host, "port": port, "peer": list(peer)[:2], "connect_ms": elapsed_ms})


def check_dns(name: str, expected_address: str | None = None) -> CheckResult:
    """``name`` resolves (to ``expected_address`` when given)."""
    check = f"DNS name {name} resolves" + (f" to {expected_address}" if expected_address else "")
    expected = expected_address or "at least one address"
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        return CheckResult.fail(check, "does not resolve", expected, detail=f"{name}: {exc.strerror or exc}")
    addresses = sorted({str(info[4][0]) for info in infos})
    passed = expected_address in addresses if expected_address else bool(addresses)
    return CheckResult.judge(check, passed, addresses, expected, evidence={"addresses": addresses})


def check_docker_daemon(base_url: str | None = None, minimum: str | None = None, timeout_s: float = 10) -> CheckResult:
    """The Docker daemon answers (at ``base_url``, else DOCKER_HOST, else the local socket).

    With ``minimum``, the engine's (server's) version must be at least that.
    """
    name = "Docker daemon reachable" + (f" at version {minimum} or later" if minimum else "")
    expected = f"engine >= {minimum}" if minimum else "reachable"
    where = engine_address(base_url)
    try:
        with connected(base_url, int(timeout_s)) as client:
            info = client.version()
    except Exception as exc:  # docker-py raises DockerException, requests errors, or OSError
        return CheckResult.fail(name, "not reachable", expected,
                                detail=f"Docker daemon at {where} did not answer: {describe_error(exc)}",
                                evidence={"base_url": where})
    version = str(info.get("Version", ""))
    evidence = {"base_url": where, "version": version, "api_version": info.get("ApiVersion"),
                "os": info.get("Os"), "arch": info.get("Arch")}
    if minimum is None:
        return CheckResult.ok(name, f"engine {version}", expected, evidence=evidence)
    found = parse_version(version)
    if found is None:
        return CheckResult.unknown(name, f"engine version {version!r} is not a version number", expected,
                                   evidence=evidence)
    return CheckResult.judge(name, found >= minimum_version(minimum), f"engine {found}", expected, evidence=evidence)


def docker_host_spec(base_url: str | None) -> str | None:
    """The testinfra spec of the machine a Docker daemon runs on: local for a unix socket, ssh for ssh://."""
    url = base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if url.startswith("unix://") or url.startswith("npipe://"):
        return LOCAL_SPEC
    if url.startswith("ssh://"):
        return url
    return None


def check_docker_image_space(minimum_gb: float, base_url: str | None = None, timeout_s: float = 10) -> CheckResult:
    """The file system of the daemon's DockerRootDir (where images live) has ``minimum_gb`` free."""
    from releasegate.checks.preflight.host import check_free_disk

    name = f"free disk for Docker images >= {minimum_gb:g} GB"
    expected = f">= {minimum_gb:g} GB free"
    where = engine_address(base_url)
    try:
        with connected(base_url, int(timeout_s)) as client:
            root_dir = str(client.info().get("DockerRootDir") or "/var/lib/docker")
    except Exception as exc:
        return CheckResult.unknown(name, f"Docker daemon at {where} did not answer: {describe_error(exc)}",
                                   expected, evidence={"base_url": where})
    spec = docker_host_spec(base_url)
    if spec is None:
        return CheckResult.unknown(name, f"cannot measure the disk of a daemon reached over {where}; check the host"
                                   f" with: the host \"ssh://user@host\" has at least {minimum_gb:g} GB free disk at"
                                   f" \"{root_dir}\"", expected, evidence={"docker_root_dir": root_dir})
    result = check_free_disk(minimum_gb, root_dir, spec)
    result.name = name
    result.evidence["docker_root_dir"] = root_dir
    return result
