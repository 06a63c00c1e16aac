"""Ports of the target tests: 18100-18199 instances, 18200-18219 routers, split between two xdist workers."""

from __future__ import annotations

import os


def worker_index() -> int:
    """0, or 1 on a second xdist worker: each gets its own share of the ports."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return min(1, int(name[2:]) if name[2:].isdigit() else 0)
