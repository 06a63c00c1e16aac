"""Processes on this machine, through psutil: alive (not a zombie), command line, children, who listens
on a port, graceful stop."""

from __future__ import annotations

import ipaddress

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


def listening(port: int, host: str | None = None) -> list[int]:
    """The pids holding a listening TCP socket on ``port``, sorted.

    ``host``: an IP address or a name; a socket on another IP address (not the wildcard) is left
    out, a name matches any address. As root every process is seen; otherwise only this user's
    (psutil maps sockets to pids through /proc/<pid>/fd).
    """
    try:
        ip = str(ipaddress.ip_address(host)) if host else None
    except ValueError:
        ip = None
    try:
        sockets = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return []
    return sorted({s.pid for s in sockets
                   if s.status == psutil.CONN_LISTEN and s.laddr and s.laddr.port == port and s.pid is not None
                   and (ip is None or s.laddr.ip in (ip, "0.0.0.0", "::"))})


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
