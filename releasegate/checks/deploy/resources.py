"""Resource usage of a service's containers (``docker stats --no-stream``): memory and CPU.

Each running container of the service is asked once for its stats; memory is the usage less the
page cache (what ``docker stats`` shows), CPU the share of one core since the engine's previous
sample. Targets without containers (kubernetes, host) give INCONCLUSIVE.
"""

from __future__ import annotations

from typing import Any

from releasegate.checks.deploy.targets.base import Target
from releasegate.checks.errors import ReleaseGateError
from releasegate.checks.result import CheckResult, combine

MB = 1024 * 1024


def container_stats(client: Any, container_id: str) -> dict[str, float]:
    """Memory (MB) and CPU (% of one core) of one container, from one stats sample."""
    stats = client.containers.get(container_id).stats(stream=False)
    memory = stats.get("memory_stats", {}) or {}
    usage = float(memory.get("usage", 0))
    cache = float((memory.get("stats") or {}).get("inactive_file", (memory.get("stats") or {}).get("cache", 0)))
    cpu, pre = stats.get("cpu_stats", {}) or {}, stats.get("precpu_stats", {}) or {}
    cpu_delta = float((cpu.get("cpu_usage") or {}).get("total_usage", 0)) - float(
        (pre.get("cpu_usage") or {}).get("total_usage", 0))
    system_delta = float(cpu.get("system_cpu_usage", 0)) - float(pre.get("system_cpu_usage", 0))
    cores = float(cpu.get("online_cpus") or 1)
    percent = (cpu_delta / system_delta) * cores * 100 if system_delta > 0 and cpu_delta > 0 else 0.0
    return {"memory_mb": round(max(0.0, usage - cache) / MB, 1), "cpu_percent": round(percent, 1)}


def check_usage(target: Target, service: str, metric: str, limit: float, unit: str) -> CheckResult:
    """Every running container of ``service`` uses less than ``limit`` of ``metric`` (memory_mb, cpu_percent)."""
    check = f"{metric.replace('_', ' ')} of {service} below {limit:g}{unit}"
    client = getattr(target, "client", None)
    instances_of = getattr(target, "instances", None)
    if client is None or instances_of is None:
        return CheckResult.unknown(check, f"target kind {target.spec.kind!r} has no containers to ask",
                                   "a docker or compose target")
    try:
        instances = [i for i in instances_of(service) if i.status == "running"]
        if not instances:
            return CheckResult.fail(check, "no running container", f"every container below {limit:g}{unit}")
        results = []
        for instance in instances:
            stats = container_stats(client, instance.container_id)
            results.append(CheckResult.judge(f"{instance.name}", stats[metric] < limit, f"{stats[metric]:g}{unit}",
                                             f"< {limit:g}{unit}", evidence={"stats": stats}))
    except ReleaseGateError as exc:
        return CheckResult.unknown(check, str(exc), f"every container below {limit:g}{unit}")
    except Exception as exc:  # the docker SDK's errors: the engine did not answer
        return CheckResult.unknown(check, f"{type(exc).__name__}: {exc}", f"every container below {limit:g}{unit}")
    result = combine(check, results)
    result.observed = {r.name: r.observed for r in results}
    return result
