"""The whole local stack: up, down, status, and the reset a release run starts from.

``up()`` is idempotent and takes a second or two when everything already runs; ``down()`` stops
what ``up()`` started except the Docker engine (shared with other work on the machine) and
removes the demo containers on the stack's ports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filelock import FileLock

from releasegate.checks._support.docker import docker_client
from releasegate.checks.database import connection as dbconn
from releasegate.checks.database import migrations
from releasegate.checks.errors import CheckError
from releasegate.checks.runbook.loader import load_runbook
from releasegate.localstack import database, dockerd, images, instances, prometheus, router
from releasegate.localstack.component import ComponentStatus, Log, say
from releasegate.localstack.config import LOCAL_RUNBOOK, StackConfig
from releasegate.localstack.host import host_problems


def up(config: StackConfig | None = None, *, build_images: bool = True, log: Log = say) -> list[ComponentStatus]:
    """Bring every component up (idempotent); raise CheckError naming what is missing and what to do."""
    config = config or StackConfig.load()
    problems = [p for p in host_problems() if build_images or "debootstrap" not in p]
    if problems:
        raise CheckError("the local stack cannot run here: " + "; ".join(problems))
    config.root.mkdir(parents=True, exist_ok=True)
    with FileLock(config.root / "up.lock"):  # pytest-xdist workers may all ask at once
        dockerd.ensure(config, log)
        database.ensure(config, log)
        prometheus.ensure(config, log)
        router.ensure(config)
        if build_images:
            images.build_all(config.image_versions, log=log)
    return status(config)


def down(config: StackConfig | None = None, log: Log = say) -> None:
    """Stop the stack's processes and remove its demo containers; the Docker engine keeps running."""
    config = config or StackConfig.load()
    if dockerd.ready():
        instances.remove(config, docker_client(timeout=30), log)
    router.stop(config)
    prometheus.stop(config)
    database.stop(config)


def status(config: StackConfig | None = None) -> list[ComponentStatus]:
    config = config or StackConfig.load()
    engine = dockerd.status()
    found = [engine, database.status(config), prometheus.status(config), router.status(config)]
    if not engine.running:
        return [*found, ComponentStatus("images", False, "unknown: the Docker engine is not running")]
    client = docker_client()
    return [*found, _images_status(config, client), *instances.status(config, client)]


def reset(config: StackConfig, version: str, log: Log = say) -> None:
    """Put the local environment back where a release starts: no demo containers of the runbook's
    docker targets, the router with no backend, the demo database at the schema ``version`` ships.

    ``scripts/run-release`` calls this and then installs ``version`` with features/install.feature,
    so every run on the local stack starts from the same place. Data rows stay: a downgrade of the
    demo's migrations drops columns only.
    """
    shipped = images.DEMO_BUILDS.get(version)
    if shipped is None:
        raise CheckError(f"unknown demo build {version!r}; known: {', '.join(images.DEMO_BUILDS)}")
    revision = Path(shipped[-1]).name.split("_", 1)[0]
    settings = migrations.MigrationSettings(tool="alembic", run="host", path=str(images.DEMO_DIR / "migrations"))
    try:  # first: a stack that is down fails here, before anything is removed
        current = migrations.current_version(config.owner_dsn, settings.tool, step="reset")
    except dbconn.DatabaseError as exc:
        raise CheckError(f"{exc}; run scripts/local-stack up") from None
    services = {service.name for service in load_runbook(LOCAL_RUNBOOK).services}
    instances.remove(config, docker_client(), log, deployed_services=services)
    router.clear(config)
    if current is None or current in migrations.ancestors(settings, revision):
        log(f"database {config.database} at {current or 'no schema yet'} ({version} needs {revision}):"
            " nothing to downgrade")
        return
    result = migrations.downgrade(config.owner_dsn, settings, revision, step="reset")
    if not result.passed:
        raise CheckError(result.summary())
    log(f"database {config.database} at {revision}, the schema {version} ships ({result.observed})")


def _images_status(config: StackConfig, client: Any) -> ComponentStatus:
    stale = [s for s in images.missing_images(client)
             if s == images.BASE_IMAGE or s.split(":", 1)[1] in config.image_versions]
    if stale:
        return ComponentStatus("images", False, "missing or stale: " + ", ".join(stale))
    return ComponentStatus("images", True, "all built: " + ", ".join(config.image_versions))
