"""The local Docker engine for tests: started when nothing runs it yet, never stopped (others share it)."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

LOG = "/tmp/dockerd.log"


def answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


def ensure_running(timeout_s: float = 60) -> None:
    """Return once ``docker info`` answers, starting ``dockerd`` first when it does not; fail the test otherwise."""
    if shutil.which("docker") is None or shutil.which("dockerd") is None:
        pytest.fail("docker / dockerd are not installed: run scripts/setup (Debian's docker.io package)")
    if answers():
        return
    with open(LOG, "ab") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if answers():
            return
        time.sleep(1)
    pytest.fail(f"dockerd did not start within {timeout_s:g}s; see {LOG}")
