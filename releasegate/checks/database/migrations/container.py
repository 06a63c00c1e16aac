"""Migration commands inside a container: ``docker exec`` in the service's running container, or a
one-off ``docker run --rm`` of the release's image on the host network.

The container uses its own database settings; a one-off container gets ``DATABASE_URL`` by name
(``-e DATABASE_URL``, the value from this process's environment), never on the command line.
Both get the session options (lock and statement timeouts) in ``PGOPTIONS``.
"""

from __future__ import annotations

import os
import secrets as random
import subprocess

from releasegate.checks.database.connection import DatabaseError
from releasegate.checks.database.migrations.settings import MigrationSettings


def run(dsn: str, settings: MigrationSettings, command: list[str], *,
        timeout: float) -> subprocess.CompletedProcess[str]:
    """``command`` in a one-off container of ``settings.image`` when no container is named, else in the container."""
    if settings.image and not settings.container:
        return run_image(dsn, settings, command, timeout=timeout)
    return exec_in_container(settings, command, timeout=timeout)


def exec_in_container(settings: MigrationSettings, command: list[str], *,
                      timeout: float) -> subprocess.CompletedProcess[str]:
    if not settings.container:
        raise DatabaseError("database.migrations.container is not set: name the service's container"
                            " (or set database.migrations.image to run the release's image)")
    env = dict(os.environ)
    env["PGOPTIONS"] = settings.session_options()
    # "--": the container name and the image are never read as options of docker
    return subprocess.run(["docker", "exec", "-e", "PGOPTIONS", "--", settings.container, *command],
                          capture_output=True, text=True, env=env, timeout=timeout, check=False)


def run_image(dsn: str, settings: MigrationSettings, command: list[str], *,
              timeout: float) -> subprocess.CompletedProcess[str]:
    """A one-off container of the release's image on the host network, DATABASE_URL passed by name only."""
    name = f"releasegate-migrate-{random.token_hex(4)}"
    try:
        return subprocess.run(["docker", "run", "--rm", "--name", name, "--network", "host", "-e", "DATABASE_URL",
                               "-e", "PGOPTIONS", "--", str(settings.image), *command],
                              capture_output=True, text=True, env=settings.environment(dsn), timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60, check=False)
        raise
