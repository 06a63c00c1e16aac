"""Migration command lines: a revision is quoted into a ``sh -c`` downgrade script, names are never options.

Real Docker engine, the demo image (no database needed: the commands only write files in the container).
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import PurePosixPath

import pytest
from support import docker_engine, hostile

from releasegate.checks.database.migrations import MigrationSettings, alembic, container

IMAGE = "releasegate-demo:1.0.0"
DSN = "postgresql://nobody@127.0.0.1:9/none"  # never used: the commands do not connect


@pytest.fixture(scope="module")
def sleeper() -> Iterator[str]:
    """A running demo container that only sleeps."""
    docker_engine.ensure_running()
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True, timeout=30).returncode:
        pytest.fail(f"demo image {IMAGE} missing: scripts/setup builds it (releasegate.localstack.images.build_all)")
    name = f"rg-shell-{secrets.token_hex(4)}"
    subprocess.run(["docker", "run", "-d", "--rm", "--name", name, "--entrypoint", "sleep", IMAGE, "600"],
                   check=True, capture_output=True, timeout=60)
    yield name
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


def in_container(name: str, *command: str) -> tuple[int, str]:
    """Exit code and output, decoded as written (no newline translation)."""
    done = subprocess.run(["docker", "exec", name, *command], capture_output=True, timeout=60)
    return done.returncode, done.stdout.decode()


def test_a_hostile_revision_reaches_a_sh_c_downgrade_script_as_one_word(sleeper: str) -> None:
    folder = PurePosixPath("/tmp") / f"rg-shell-{secrets.token_hex(4)}"
    assert in_container(sleeper, "mkdir", "-p", str(folder))[0] == 0
    settings = MigrationSettings(run="container", container=sleeper, timeout_s=60,
                                 downgrade_command=["sh", "-c", f"printf '%s' {{revision}} > {folder}/revision"])
    # the markers are paths inside the container, where the script runs
    for index, form in enumerate(hostile.FORMS):
        value = form.format(m=f"{folder}/{hostile.MARKER}{index}")
        done = alembic.run(DSN, settings, "downgrade", value)
        assert done.returncode == 0, done.stderr
        assert in_container(sleeper, "cat", f"{folder}/revision")[1] == value
    listed = in_container(sleeper, "ls", "-A", str(folder))[1].split()
    assert listed == ["revision"], listed  # no marker: nothing of a revision ran


@pytest.mark.parametrize("name", ["--help", "-it", "--privileged"])
def test_a_container_or_image_name_is_never_read_as_an_option_of_docker(name: str) -> None:
    docker_engine.ensure_running()
    exec_in = container.exec_in_container(MigrationSettings(run="container", container=name), ["true"], timeout=60)
    assert exec_in.returncode != 0 and "No such container" in exec_in.stderr, exec_in.stdout[:200]
    run_image = container.run_image(DSN, MigrationSettings(run="container", image=name), ["true"], timeout=60)
    assert run_image.returncode != 0 and "Usage:" not in run_image.stdout, run_image.stdout[:200]
