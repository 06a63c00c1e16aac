"""Host checks through testinfra's docker and local backends, against a real demo container."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.ports import worker_index

from releasegate.checks.deploy.targets import host
from releasegate.checks.deploy.targets.base import get_target
from releasegate.checks.errors import TargetError, TargetUnreachable
from releasegate.checks.runbook.model import Service
from releasegate.checks.runbook.model import Target as TargetSpec

PORT = 18196 - 2 * worker_index()
NAME = f"rgtest-host-demo-{worker_index()}"


@pytest.fixture(scope="module")
def demo_container(demo_images: None) -> Iterator[str]:
    subprocess.run(["docker", "rm", "-f", NAME], capture_output=True, timeout=60)
    subprocess.run(["docker", "run", "-d", "--name", NAME, "--network", "host", "-e", f"PORT={PORT}",
                    "releasegate-demo:1.0.0"], check=True, capture_output=True, timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    yield f"docker://{NAME}"
    subprocess.run(["docker", "rm", "-f", NAME], capture_output=True, timeout=60)


def test_process_port_package_and_files_in_the_container(demo_container: str) -> None:
    runs_as = host.process_user(demo_container, "demo_service", "appuser")
    assert runs_as.passed, runs_as.summary()
    assert host.process_user(demo_container, "demo_service").passed  # any non-root user
    assert host.process_user(demo_container, "demo_service", "root").failed
    assert host.process_user(demo_container, "no-such-program").failed

    assert host.port_listening(demo_container, PORT).passed
    assert host.port_listening(demo_container, PORT + 1).failed

    assert host.package_installed(demo_container, "python3").passed
    assert host.package_installed(demo_container, "openssh-server").failed

    app = host.file_permissions(demo_container, "/app", owner="appuser")
    assert app.passed, app.summary()
    shadow = host.file_permissions(f"docker://root@{NAME}", "/etc/shadow", mode="640", owner="root")
    assert shadow.passed, shadow.summary()
    assert host.file_permissions(demo_container, "/etc/shadow", mode="600").failed
    assert host.file_permissions(demo_container, "/no/such/file").failed


def test_unreachable_host_is_inconclusive_never_a_pass() -> None:
    result = host.port_listening("docker://rgtest-no-such-container", 80)
    assert result.inconclusive and "could not check" in result.detail
    target = get_target(TargetSpec(name="gone", kind="host", url="docker://rgtest-no-such-container"),
                        [Service(name="demo-api", base_url=f"http://127.0.0.1:{PORT}")])
    with pytest.raises(TargetUnreachable, match="gone"):
        target.check_reachable()


def test_host_target_deploys_with_the_runbook_commands(tmp_path: Path) -> None:
    state = tmp_path / "VERSION"
    state.write_text("1.0.0\n")
    spec = TargetSpec(name="box", kind="host", url="local://", options={
        "deploy_command": f"echo {{version}} > {state}", "version_command": f"cat {state}"})
    target = get_target(spec, [Service(name="demo-api", base_url=f"http://127.0.0.1:{PORT + 1}")])
    target.check_reachable()
    record = target.deploy("demo-api", "1.1.0")
    assert (record.previous_version, record.version) == ("1.0.0", "1.1.0")
    assert record.outcome == "failed"  # nothing answers on its base_url: health is not assumed
    assert target.serving_version("demo-api") == "1.1.0"
    back = target.rollback("demo-api", record.as_dict())
    assert back.version == "1.0.0" and state.read_text().strip() == "1.0.0"
    assert "skipped" in target.rollback("demo-api", record.as_dict()).details
    bare = get_target(TargetSpec(name="bare", kind="host"), [Service(name="demo-api", base_url="http://x.invalid")])
    with pytest.raises(TargetError, match=r"no options\.deploy_command"):
        bare.deploy("demo-api", "1.1.0")
