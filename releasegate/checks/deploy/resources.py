"""Resource usage of a service's instances (``docker stats --no-stream``): memory and CPU.

The target asks each running instance once for its usage (``Target.instance_usage``); memory
is the usage less the page cache (what ``docker stats`` shows), CPU the share of one core since
the engine's previous sample. Targets that cannot measure (kubernetes, host) give INCONCLUSIVE.
"""

from __future__ import annotations

from releasegate.checks.deploy.targets.base import Target, ask_instances
from releasegate.checks.result import CheckResult, combine


def check_usage(target: Target, service: str, metric: str, limit: float, unit: str) -> CheckResult:
    """Every running instance of ``service`` uses less than ``limit`` of ``metric`` (memory_mb, cpu_percent)."""
    check = f"{metric.replace('_', ' ')} of {service} below {limit:g}{unit}"
    usage = ask_instances(target, check, f"every container below {limit:g}{unit}", "no containers to ask",
                          lambda: target.instance_usage(service))
    if isinstance(usage, CheckResult):
        return usage
    results = [CheckResult.judge(name, stats[metric] < limit, f"{stats[metric]:g}{unit}", f"< {limit:g}{unit}",
                                 evidence={"stats": stats}) for name, stats in usage.items()]
    result = combine(check, results)
    result.observed = {r.name: r.observed for r in results}
    return result
