"""Migrations run inside the service's container (seed 002: docker exec ... migrate), real Docker engine.

Uses the demo images that scripts/setup builds (releasegate-demo:1.0.0, 1.1.0, 1.1.0-badmigration);
the container shares the host network, so it reaches the test cluster on 127.0.0.1.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import docker_engine
from support.database import PASSWORD, Db

from releasegate.checks._support.paths import REPO_ROOT
from releasegate.checks.database import migrations
from releasegate.checks.database.migrations import MigrationSettings
from releasegate.checks.runbook.model import Migrations

IMAGES = ("releasegate-demo:1.0.0", "releasegate-demo:1.1.0", "releasegate-demo:1.1.0-badmigration")
MIGRATE = ["python", "-m", "demo_service", "migrate"]
DEMO_MIGRATIONS = REPO_ROOT / "demo" / "migrations"


@pytest.fixture(scope="module")
def demo_images() -> None:
    docker_engine.ensure_running()
    if subprocess.run(["docker", "image", "inspect", *IMAGES], capture_output=True, timeout=30).returncode:
        pytest.fail(f"demo images missing ({', '.join(IMAGES)}): scripts/setup builds them"
                    " (releasegate.localstack.images.build_all)")


@pytest.fixture
def container(demo_images: None, db: Db) -> Iterator[Callable[[str], str]]:
    """Start a demo container (sleeping) whose DATABASE_URL is the test database; removed afterwards."""
    started: list[str] = []

    def start(image: str) -> str:
        name = f"rg-database-{secrets.token_hex(4)}"
        env = dict(os.environ, DATABASE_URL=db.dsn)  # passed by name: the password stays off the command line
        subprocess.run(["docker", "run", "-d", "--rm", "--name", name, "--network", "host", "-e", "DATABASE_URL",
                        "--entrypoint", "sleep", image, "600"], env=env, check=True, capture_output=True, timeout=60)
        started.append(name)
        return name

    yield start
    for name in started:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


def test_migrations_in_the_container_and_a_bad_build_left_at_the_previous_revision(
        db: Db, container: Callable[[str], str]) -> None:
    def settings(image: str) -> MigrationSettings:
        return MigrationSettings(run="container", container=container(image), command=MIGRATE)

    result, run = migrations.apply_migrations(db.dsn, settings("releasegate-demo:1.0.0"))
    assert result.passed, result.summary()
    assert run.revision_after == "0002" and "unknown" in result.evidence["head"]

    result, run = migrations.apply_migrations(db.dsn, settings("releasegate-demo:1.1.0-badmigration"))
    assert result.failed and 'column "owner_id" does not exist' in result.detail
    assert run.left_at_previous is True and migrations.current_version(db.dsn, "alembic") == "0002"
    assert "still at revision 0002" in result.detail and PASSWORD not in result.summary()

    result, run = migrations.apply_migrations(db.dsn, settings("releasegate-demo:1.1.0"))
    assert result.passed and run.revision_after == "0003"

    # the downgrade runs alembic on the host from the host copy of the migrations the image ships
    host_copy = MigrationSettings(run="container", container="unused", command=MIGRATE,
                                  path=str(DEMO_MIGRATIONS))
    assert migrations.downgrade(db.dsn, host_copy, "0002").passed
    assert migrations.current_version(db.dsn, "alembic") == "0002"


def test_container_that_does_not_exist_is_a_clear_failure(db: Db, demo_images: None) -> None:
    settings = MigrationSettings(run="container", container="rg-database-no-such-container", command=MIGRATE)
    result, run = migrations.apply_migrations(db.dsn, settings)
    assert result.failed and "No such container" in result.detail and db.name in result.detail
    assert run.left_at_previous is True


def test_migrations_in_a_one_off_container_of_the_release_image(db: Db, demo_images: None) -> None:
    def settings(version: str) -> MigrationSettings:
        config = Migrations(run="container", image="releasegate-demo:{version}", command=["migrate"])
        return migrations.settings_for(config, Path.cwd(), version)

    result, run = migrations.apply_migrations(db.dsn, settings("1.0.0"))
    assert result.passed and run.revision_after == "0002", result.summary()
    result, run = migrations.apply_migrations(db.dsn, settings("1.1.0-badmigration"))
    assert result.failed and run.left_at_previous is True and "owner_id" in result.detail
    assert PASSWORD not in result.summary() and PASSWORD not in str(result.evidence)
    leftovers = subprocess.run(["docker", "ps", "-aq", "--filter", "name=releasegate-migrate-"],
                               capture_output=True, text=True, timeout=30).stdout.split()
    assert leftovers == []


def test_image_with_fewer_migrations_than_the_host_copy_passes_at_its_own_head(db: Db, demo_images: None) -> None:
    """Installing 1.0.0 (migrations up to 0002) while the host copy already has 0003 (the release's)."""
    config = Migrations(run="container", image="releasegate-demo:{version}", command=["migrate"],
                        path=str(DEMO_MIGRATIONS))
    settings = migrations.settings_for(config, Path.cwd(), "1.0.0")
    result, run = migrations.apply_migrations(db.dsn, settings)
    assert result.passed and run.revision_after == "0002", result.summary()
    assert "the image's migrations ended at 0002" in result.evidence["head"]
    assert migrations.check_no_pending(db.dsn, settings).failed  # the host copy's 0003 is still to come
