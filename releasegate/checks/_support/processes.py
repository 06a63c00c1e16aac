"""Processes on this machine, through psutil: alive (not a zombie), command line, children, who listens
on a port, graceful stop."""

from __future__ import annotations

import ipaddress
from typing import Any

import psutil


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def cmdline(pid: int) -> str:
    """The process's command line joined by spaces; "" when it is gone or not readable."""
    try:
        return " ".join(psutil.Process(pid).cmdline()).strip()  # a retitled nginx pads its title with ""
    except psutil.Error:
        return ""


def parent(pid: int) -> int | None:
    """The pid of the process's parent; None when it is gone."""
    try:
        return psutil.Process(pid).ppid()
    except psutil.Error:
        return None


def children(pid: int) -> list[int]:
    """The pids of the process's direct children."""
    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def _listens(address: Any, port: int, ip: str | None) -> bool:
    return bool(address) and address.port == port and (ip is None or address.ip in (ip, "0.0.0.0", "::"))


def _ip(host: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(host)) if host else None
    except ValueError:
        return None  # a name matches any address


def listening(port: int, host: str | None = None) -> list[int]:
    """Pids holding a listening TCP socket on ``port``, sorted: one per socket (psutil maps a socket
    to one of the processes sharing it), so use ``listens_on`` to ask about a given process.

    ``host``: an IP address or a name; a socket on another IP address (not the wildcard) is left
    out, a name matches any address. As root every process is seen; otherwise only this user's.
    """
    ip = _ip(host)
    try:
        sockets = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return []
    return sorted({s.pid for s in sockets
                   if s.status == psutil.CONN_LISTEN and s.pid is not None and _listens(s.laddr, port, ip)})


def listens_on(pid: int, port: int, host: str | None = None) -> bool:
    """Does the process hold a listening TCP socket on ``port`` (``host`` as for ``listening``)?"""
    ip = _ip(host)
    try:
        sockets = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return False
    return any(s.status == psutil.CONN_LISTEN and _listens(s.laddr, port, ip) for s in sockets)


def titled(prefix: str) -> list[int]:
    """The pids whose command line starts with ``prefix`` (a retitled process such as "nginx: worker process")."""
    found: list[int] = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or ())
        if line.startswith(prefix):
            found.append(process.pid)
    return sorted(found)


def terminate(pid: int, timeout_s: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout_s``; True when the process is gone."""
    try:
        process = psutil.Process(pid)
        process.terminate()
        try:
            process.wait(timeout_s)
        except psutil.TimeoutExpired:
            process.kill()
            process.wait(timeout_s)
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False
    return not alive(pid)
