"""Container logs of a service: no line contains a text ("No critical errors in logs").

``docker logs <container> | grep "Configuration validation failed"`` as a check: every running
container of the service is read (the last ``tail`` lines) and the matching lines are the
evidence, redacted. Targets without containers give INCONCLUSIVE.
"""

from __future__ import annotations

from typing import Any

from releasegate.checks import secrets
from releasegate.checks.errors import ReleaseGateError
from releasegate.checks.result import CheckResult

DEFAULT_TAIL = 5000


def check_logs_free_of(target: Any, service: str, text: str, tail: int = DEFAULT_TAIL) -> CheckResult:
    check = f"logs of {service} free of {text!r}"
    expected = f"no line containing {text!r}"
    client = getattr(target, "client", None)
    instances_of = getattr(target, "instances", None)
    if client is None or instances_of is None:
        return CheckResult.unknown(check, f"target kind {target.spec.kind!r} has no container logs to read",
                                   "a docker or compose target")
    try:
        instances = [i for i in instances_of(service) if i.status == "running"]
        if not instances:
            return CheckResult.fail(check, "no running container", expected)
        found: dict[str, list[str]] = {}
        read = 0
        for instance in instances:
            raw = client.containers.get(instance.container_id).logs(tail=tail)
            lines = raw.decode("utf-8", "replace").splitlines()
            read += len(lines)
            matching = [secrets.redact(line[:500]) for line in lines if text in line]
            if matching:
                found[instance.name] = matching[-20:]
    except ReleaseGateError as exc:
        return CheckResult.unknown(check, str(exc), expected)
    except Exception as exc:  # the docker SDK's errors: the engine did not answer
        return CheckResult.unknown(check, f"{type(exc).__name__}: {exc}", expected)
    evidence = {"containers": [i.name for i in instances], "lines_read": read, "matching": found}
    count = sum(len(v) for v in found.values())
    return CheckResult.judge(check, not found, f"{count} matching line(s)" if found else "no matching line",
                             expected, evidence=evidence)
