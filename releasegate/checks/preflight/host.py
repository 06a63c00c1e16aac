"""Host resources (CPU cores, memory, free disk) on this machine or another one, via testinfra.

A host is named by a testinfra spec (``_support.hosts``): ``local://`` (this machine),
``ssh://user@host``, ``docker://container``, ``paramiko://...``. Commands used: ``nproc`` (or ``getconf``),
``/proc/meminfo`` and ``df -Pk``, present on any Linux host. Sizes use decimal units
(1 GB = 10^9 bytes) so that a machine sold as "4 GB" passes a 4 GB minimum although the
kernel keeps some of it; evidence shows GiB too.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from typing import Any

from releasegate.checks import secrets
from releasegate.checks._support import hosts
from releasegate.checks._support.hosts import LOCAL_SPEC, CommandOutput, get_host
from releasegate.checks.preflight.tools import Runner
from releasegate.checks.result import CheckResult

__all__ = ["GB", "GIB", "LOCAL_SPEC", "check_cpu_cores", "check_free_disk", "check_memory", "cpu_cores",
           "free_disk_bytes", "get_host", "memory_bytes", "runner_for"]

GB = 10**9
GIB = 2**30


def runner_for(spec: str) -> Runner:
    """Run tool commands on the host named by ``spec`` (see ``preflight.tools.check_tool``)."""
    host = get_host(spec)

    def exists(program: str) -> bool:
        return bool(host.exists(program))

    def run(argv: Sequence[str]) -> CommandOutput:
        return hosts.run(host, shlex.join(argv))

    return Runner(spec, exists, run)


def _measure(
    spec: str,
    name: str,
    expected: str,
    measure: Callable[[Any], tuple[float, dict[str, Any]]],
    passes: Callable[[float], bool],
    show: Callable[[float], str],
) -> CheckResult:
    """Run ``measure`` on the host; an unreachable host or unreadable output is INCONCLUSIVE."""
    try:
        value, evidence = measure(get_host(spec))
    except Exception as exc:  # testinfra backends raise whatever their transport raises
        reason = secrets.redact(hosts.describe_host_error(exc))
        return CheckResult.unknown(name, f"could not read {name} on {spec}: {reason}", expected,
                                   evidence={"host": spec})
    return CheckResult.judge(name, passes(value), show(value), expected, evidence={"host": spec, **evidence})


def _checked(output: CommandOutput, command: str) -> str:
    if output.exit_code != 0:
        raise RuntimeError(f"{command!r} exited {output.exit_code}: {output.stderr.strip()[:200]}")
    return output.stdout


def cpu_cores(host: Any) -> tuple[float, dict[str, Any]]:
    for command in ("nproc", "getconf _NPROCESSORS_ONLN"):
        output = hosts.run(host, command)
        if output.exit_code == 0 and output.stdout.strip().isdigit():
            return float(output.stdout.strip()), {"command": command, "output": output.stdout.strip()}
    text = _checked(hosts.run(host, "cat /proc/cpuinfo"), "cat /proc/cpuinfo")
    count = sum(1 for line in text.splitlines() if line.startswith("processor"))
    if count == 0:
        raise RuntimeError("no processor lines in /proc/cpuinfo")
    return float(count), {"command": "cat /proc/cpuinfo", "processors": count}


def memory_bytes(host: Any) -> tuple[float, dict[str, Any]]:
    text = _checked(hosts.run(host, "cat /proc/meminfo"), "cat /proc/meminfo")
    fields = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[key.strip()] = int(parts[0]) * 1024
    if "MemTotal" not in fields:
        raise RuntimeError("no MemTotal in /proc/meminfo")
    total = fields["MemTotal"]
    return float(total), {
        "MemTotal_bytes": total,
        "MemTotal_GiB": round(total / GIB, 2),
        "MemAvailable_GB": round(fields.get("MemAvailable", 0) / GB, 2),
    }


def free_disk_bytes(path: str) -> Callable[[Any], tuple[float, dict[str, Any]]]:
    def measure(host: Any) -> tuple[float, dict[str, Any]]:
        command = f"df -Pk {shlex.quote(path)}"
        text = _checked(hosts.run(host, command), command)
        lines = [line for line in text.splitlines() if line.strip()]
        # POSIX df -P: Filesystem 1024-blocks Used Available Capacity Mounted-on
        fields = lines[-1].split()
        if len(lines) < 2 or len(fields) < 6 or not fields[3].isdigit():
            raise RuntimeError(f"unexpected output of {command!r}: {text.strip()[:200]}")
        available = int(fields[3]) * 1024
        return float(available), {
            "command": command,
            "filesystem": fields[0],
            "mounted_on": fields[5],
            "size_GB": round(int(fields[1]) * 1024 / GB, 2),
            "available_GB": round(available / GB, 2),
            "available_GiB": round(available / GIB, 2),
        }

    return measure


def check_cpu_cores(minimum: int, spec: str = LOCAL_SPEC) -> CheckResult:
    return _measure(spec, "CPU cores", f">= {minimum} cores", cpu_cores,
                    lambda v: v >= minimum, lambda v: f"{v:g} cores")


def check_memory(minimum_gb: float, spec: str = LOCAL_SPEC) -> CheckResult:
    return _measure(spec, "memory", f">= {minimum_gb:g} GB", memory_bytes,
                    lambda v: v >= minimum_gb * GB, lambda v: f"{v / GB:.1f} GB")


def check_free_disk(minimum_gb: float, path: str = "/", spec: str = LOCAL_SPEC) -> CheckResult:
    return _measure(spec, f"free disk at {path}", f">= {minimum_gb:g} GB free", free_disk_bytes(path),
                    lambda v: v >= minimum_gb * GB, lambda v: f"{v / GB:.1f} GB free")
