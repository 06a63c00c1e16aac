"""Container logs of a service: no line contains a text ("No critical errors in logs").

``docker logs <container> | grep "Configuration validation failed"`` as a check: the target
reads the last ``tail`` lines of every running instance (``Target.instance_logs``) and the
matching lines are the evidence, redacted. Targets without logs to read give INCONCLUSIVE.
"""

from __future__ import annotations

from releasegate.checks import secrets
from releasegate.checks.deploy.targets.base import Target, ask_instances
from releasegate.checks.result import CheckResult

DEFAULT_TAIL = 5000


def check_logs_free_of(target: Target, service: str, text: str, tail: int = DEFAULT_TAIL) -> CheckResult:
    check = f"logs of {service} free of {text!r}"
    expected = f"no line containing {text!r}"
    logs = ask_instances(target, check, expected, "no container logs to read",
                         lambda: target.instance_logs(service, tail))
    if isinstance(logs, CheckResult):
        return logs
    found: dict[str, list[str]] = {}
    for name, lines in logs.items():
        matching = [secrets.redact(line[:500]) for line in lines if text in line]
        if matching:
            found[name] = matching[-20:]
    evidence = {"containers": list(logs), "lines_read": sum(len(lines) for lines in logs.values()),
                "matching": found}
    count = sum(len(v) for v in found.values())
    return CheckResult.judge(check, not found, f"{count} matching line(s)" if found else "no matching line",
                             expected, evidence=evidence)
