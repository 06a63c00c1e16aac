"""No user value reaches a shell, on every target backend: host, docker, compose, kubernetes (simulated API).

Every value of ``support.hostile`` (``;``, ``$()``, backticks, quotes, newlines, redirections...)
goes where a version, a service name or a path goes; each would leave a marker file if any shell
read it as code. A host target quotes them into the runbook's commands; the container and
Kubernetes targets refuse a version that cannot be an image tag before anything is stopped or sent.
"""

from __future__ import annotations

import json
import shlex
import shutil
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from support import hostile
from support.k8s_sim import SimulatedCluster
from support.ports import worker_index

from releasegate.checks.deploy import strategies
from releasegate.checks.deploy.routers.nginx import Router
from releasegate.checks.deploy.targets.base import Target, get_target
from releasegate.checks.deploy.targets.compose import ComposeTarget
from releasegate.checks.deploy.targets.docker import DockerTarget
from releasegate.checks.errors import TargetError
from releasegate.checks.runbook.model import Service
from releasegate.checks.runbook.model import Target as TargetSpec

SERVICE = "demo-api"
STRATEGIES = ("recreate", "rolling", "blue-green", "canary")
NOT_A_TAG = "cannot be an image tag"
COMPOSE_PORT = 18177 + 10 * worker_index()  # and +1: beside test_compose_target's 18170-18176 (18180-18186 on gw1)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A command that did run would leave its relative markers here, where left_behind looks."""
    monkeypatch.chdir(tmp_path)


def q(path: Path) -> str:
    return shlex.quote(str(path))


def served(url: str) -> str:
    with urllib.request.urlopen(f"{url}/version", timeout=3) as response:
        return str(json.loads(response.read())["version"])


def refuses_every_hostile_version(target: Target, tmp_path: Path, **options: Any) -> None:
    """Every strategy and the target's own deploy refuse each hostile version; the image check FAILs."""
    for value, _ in hostile.values(tmp_path / "markers"):
        for strategy in STRATEGIES if target.slot_control() else ("recreate", "rolling"):
            deployment = strategies.deploy(target, SERVICE, value, strategy, **options)
            assert deployment.result.failed and NOT_A_TAG in str(deployment.result.observed), (strategy, value)
        with pytest.raises(TargetError, match=NOT_A_TAG):
            target.deploy(SERVICE, value)
        found = target.image_exists(SERVICE, value)
        assert found.failed and NOT_A_TAG in str(found.observed)


# --- host ----------------------------------------------------------------------------------------

def host_target(tmp_path: Path, service: str = SERVICE, **options: str) -> Target:
    state, seen = tmp_path / "VERSION", tmp_path / "seen"
    defaults = {"deploy_command": f"printf '%s\\n' {{version}} > {q(state)}; printf '%s\\n' {{service}} > {q(seen)}",
                "version_command": f"cat {q(state)}"}
    spec = TargetSpec(name="box", kind="host", url="local://", options=defaults | options)
    return get_target(spec, [Service(name=service, base_url="http://127.0.0.1:9", version_endpoint=None)])


def test_host_target_quotes_hostile_versions_into_its_commands_and_its_rollback(tmp_path: Path) -> None:
    state = tmp_path / "VERSION"
    state.write_text("1.0.0\n")
    target = host_target(tmp_path)
    previous = "1.0.0"
    for value, _ in hostile.values(tmp_path / "markers"):
        record = target.deploy(SERVICE, value)
        assert state.read_bytes().decode() == f"{value}\n"  # arrived whole, as one word
        assert record.version == value and record.previous_version == previous.strip()
        back = target.rollback(SERVICE, record.as_dict())
        assert state.read_bytes().decode().strip() == previous.strip()  # the value read back is quoted too
        target.deploy(SERVICE, value)
        previous = value
    assert hostile.left_behind(tmp_path) == []
    assert back.action == "rollback"
    with pytest.raises(TargetError, match="NUL byte"):  # a clear error, not a ValueError from the process call
        target.deploy(SERVICE, "1.0\x00; touch x")


def test_a_service_name_with_a_line_break_or_control_character_is_refused(tmp_path: Path) -> None:
    refused = hostile.refused_names(tmp_path / "markers")
    assert refused
    for value in refused:
        with pytest.raises(ValidationError, match="expected a name on one line"):
            Service(name=value, base_url="http://127.0.0.1:9")


def test_host_target_quotes_a_hostile_service_name(tmp_path: Path) -> None:
    for value, _ in hostile.names(tmp_path / "markers"):
        target = host_target(tmp_path, service=value)
        target.deploy(value, "1.1.0")
        assert (tmp_path / "seen").read_bytes().decode() == f"{value}\n"
        assert (tmp_path / "VERSION").read_text() == "1.1.0\n"
    assert hostile.left_behind(tmp_path) == []


def test_host_target_makes_an_image_reference_only_from_a_valid_tag(tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    target = host_target(tmp_path, deploy_command=f"touch {q(ran)}; printf '%s\\n' {{image}} > {q(tmp_path / 'seen')}")
    target.deploy(SERVICE, "1.1.0")
    assert (tmp_path / "seen").read_text() == "demo-api:1.1.0\n"
    ran.unlink()
    for value, _ in hostile.values(tmp_path / "markers"):
        with pytest.raises(TargetError, match=NOT_A_TAG):
            target.deploy(SERVICE, value)
    assert not ran.exists() and hostile.left_behind(tmp_path) == []


def test_a_host_template_built_in_code_is_checked_like_one_from_a_runbook(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="inside quotes"):
        host_target(tmp_path, deploy_command="deploy '{version}'")
    with pytest.raises(ValueError, match=r"unknown placeholder \{version\}; placeholders here: \{service\}"):
        host_target(tmp_path, version_command="cat /srv/{version}")


# --- docker --------------------------------------------------------------------------------------

def test_docker_target_refuses_hostile_versions_before_stopping_anything(
        docker_target: Callable[..., DockerTarget], router: Router, tmp_path: Path) -> None:
    target = docker_target()
    settings = {"kind": "nginx", "root": str(router.root), "listen": router.listen}
    first = strategies.deploy(target, SERVICE, "1.0.0", "recreate", router=router, router_settings=settings)
    assert first.passed, first.result.summary()
    before = [(i.name, i.version, i.status, i.container_id) for i in target.instances(SERVICE)]
    refuses_every_hostile_version(target, tmp_path, router=router, router_settings=settings)
    assert [(i.name, i.version, i.status, i.container_id) for i in target.instances(SERVICE)] == before
    assert served(router.url) == "1.0.0"
    assert hostile.left_behind(tmp_path) == []


def test_docker_target_refuses_a_service_name_that_cannot_name_a_container(demo_images: None,
                                                                          tmp_path: Path) -> None:
    for value, _ in hostile.names(tmp_path / "markers"):
        target = DockerTarget(TargetSpec(name="local", kind="docker", options={"project": "rgshell"}),
                              [Service(name=value, base_url="http://127.0.0.1:9", image="releasegate-demo")])
        deployment = strategies.deploy(target, value, "1.0.0", "recreate")
        assert deployment.result.failed and "cannot name a container" in str(deployment.result.observed)
        target.close()
    assert hostile.left_behind(tmp_path) == []


# --- compose -------------------------------------------------------------------------------------

def test_compose_target_in_a_hostile_folder_with_a_hostile_service_name(demo_images: None, tmp_path: Path) -> None:
    if not (shutil.which("docker-compose") or shutil.which("docker")):
        pytest.fail("docker compose is not installed")
    folder = hostile.hostile_folder(tmp_path / "project")
    slots = [{"name": "api-blue", "port": COMPOSE_PORT}, {"name": "api-green", "port": COMPOSE_PORT + 1}]
    (folder / "docker-compose.yml").write_text(yaml.safe_dump({"version": "3.8", "services": {
        slot["name"]: {"image": "releasegate-demo:1.0.0", "network_mode": "host",
                       "environment": {"PORT": str(slot["port"])}} for slot in slots}}))
    # a runbook service name with compose's own interpolation and the shell's: both kept as written
    name = f"{SERVICE} $(touch {tmp_path}/markers/{hostile.MARKER}name) ${{HOME}} $$HOME `id` ';\""
    options = {"file": str(folder / "docker-compose.yml"), "project": f"rgshell{worker_index()}",
               "state_dir": str(folder / "state"), "health_timeout_s": 30,
               "services": {SERVICE: slots, name: slots}}
    url = f"http://127.0.0.1:{COMPOSE_PORT}"
    services = [Service(name=n, base_url=url, image="releasegate-demo", readiness=None) for n in (SERVICE, name)]
    target = get_target(TargetSpec(name="c", kind="compose", options=options), services)
    assert isinstance(target, ComposeTarget)
    try:
        target.check_reachable()
        odd = strategies.deploy(target, name, "1.0.0", "recreate")
        assert odd.passed, odd.result.summary()
        labels = target.client.containers.list(filters={"label": "com.docker.compose.service=api-blue"})[0].labels
        assert labels["org.releasegate.service"] == name
        first = strategies.deploy(target, SERVICE, "1.0.0", "recreate")
        assert first.passed, first.result.summary()
        before = [(i.name, i.version, i.status, i.container_id) for i in target.instances(SERVICE)]
        refuses_every_hostile_version(target, tmp_path)
        assert [(i.name, i.version, i.status, i.container_id) for i in target.instances(SERVICE)] == before
        assert served(url) == "1.0.0"
    finally:
        target.down()
        target.close()
    assert hostile.left_behind(tmp_path) == []


# --- kubernetes ----------------------------------------------------------------------------------

def test_kubernetes_target_refuses_hostile_versions_before_the_api_sees_them(
        kubeconfig: Path, k8s_sim: SimulatedCluster, tmp_path: Path) -> None:
    folder = hostile.hostile_folder(tmp_path / "k8s")
    manifest = folder / "api.yaml"
    manifest.write_text(yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": SERVICE},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "api"}},
                 "template": {"metadata": {"labels": {"app": "api"}},
                              "spec": {"containers": [{"name": "api", "image": "placeholder"}]}}}}))
    config = folder / "kubeconfig"
    config.write_text(kubeconfig.read_text())
    spec = TargetSpec(name="cluster", kind="kubernetes", options={
        "kubeconfig": str(config), "manifests": {SERVICE: str(manifest)}, "poll_s": 0.05, "timeout_s": 20})
    target = get_target(spec, [Service(name=SERVICE, base_url="http://127.0.0.1:9", image="releasegate-demo")])
    assert target.deploy(SERVICE, "1.0.0").outcome == "done"
    sent = len(k8s_sim.cluster.requests)
    refuses_every_hostile_version(target, tmp_path)
    assert [r for r in k8s_sim.cluster.requests[sent:] if r[0] != "GET"] == []  # nothing created or patched
    assert target.serving_version(SERVICE) == "1.0.0"
    target.close()
    assert hostile.left_behind(tmp_path) == []
