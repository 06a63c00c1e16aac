"""Run a check again and again until it passes or a bounded timeout expires ("within N seconds")."""

from __future__ import annotations

import time
from collections.abc import Callable

from releasegate.checks.result import CheckResult, Outcome


def within(
    check: Callable[[], CheckResult],
    timeout_s: float,
    interval_s: float = 1.0,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> CheckResult:
    """Call ``check`` until it passes or ``timeout_s`` has gone by; the last result wins.

    The returned result records how many attempts were made and how long they took, and
    keeps the outcome of the last attempt (FAIL or INCONCLUSIVE) when time runs out.
    """
    start = clock()
    attempts = 0
    while True:
        attempts += 1
        result = check()
        elapsed = clock() - start
        if result.outcome is Outcome.PASS or elapsed + interval_s > timeout_s:
            break
        sleep(interval_s)
    result.attempts = attempts
    result.elapsed_s = round(clock() - start, 3)
    result.evidence.setdefault("retry", {"timeout_s": timeout_s, "interval_s": interval_s})
    if not result.passed:
        result.detail = (result.detail + "; " if result.detail else "") + f"still not passing after {timeout_s:g}s"
    return result
