"""The kubernetes target against the simulated API server (tests/support/k8s_sim.py)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.k8s_sim import SimulatedCluster

from releasegate.checks.deploy import strategies
from releasegate.checks.deploy.targets.base import get_target
from releasegate.checks.deploy.targets.kubernetes import KubernetesTarget
from releasegate.checks.errors import TargetUnreachable
from releasegate.checks.runbook.model import Service
from releasegate.checks.runbook.model import Target as TargetSpec

IMAGE = "releasegate-demo"


def make_target(kubeconfig: Path, **options: Any) -> KubernetesTarget:
    spec = TargetSpec(name="cluster", kind="kubernetes",
                      options={"kubeconfig": str(kubeconfig), "poll_s": 0.05, "timeout_s": 20, **options})
    services = [Service(name="demo-api", base_url="http://127.0.0.1:18199", image=IMAGE, instances=3, port=8000)]
    target = get_target(spec, services)
    assert isinstance(target, KubernetesTarget)
    return target


def test_rollout_waits_for_every_new_pod_and_records_revisions(kubeconfig: Path, k8s_sim: SimulatedCluster) -> None:
    target = make_target(kubeconfig)
    target.check_reachable()
    first = target.deploy("demo-api", "1.0.0")
    assert first.outcome == "done", first.details
    assert first.previous_version is None
    assert target.serving_version("demo-api") == "1.0.0"

    second = target.deploy("demo-api", "1.1.0")
    assert second.outcome == "done", second.details["rollout"]
    assert (second.previous_version, second.version) == ("1.0.0", "1.1.0")
    assert (second.details["previous_revision"], second.details["revision"]) == ("1", "2")
    assert target.serving_version("demo-api") == "1.1.0"
    health = target.health("demo-api")
    assert health.passed, health.summary()
    pods = health.evidence["pods"]
    assert len(pods) == 3 and all(p["ready"] for p in pods)
    assert all(f"{IMAGE}:1.1.0" in p["images"][0] for p in pods)
    dep = target.get_deployment("demo-api")
    assert dep is not None and dep["status"]["observedGeneration"] == dep["metadata"]["generation"] == 2
    # the rollout went through states where old and new pods coexisted: status was polled more than once
    assert second.details["rollout"]["attempts"] > 1
    assert ("PATCH", "/apis/apps/v1/namespaces/releasegate/deployments/demo-api") in k8s_sim.cluster.requests


def test_stuck_rollout_fails_at_the_progress_deadline_and_undo_restores(
    kubeconfig: Path, k8s_sim: SimulatedCluster
) -> None:
    target = make_target(kubeconfig, progress_deadline_s=1)
    assert target.deploy("demo-api", "1.0.0").outcome == "done"
    k8s_sim.cluster.stuck_images.add(f"{IMAGE}:1.1.0-crash")

    stuck = target.deploy("demo-api", "1.1.0-crash")
    assert stuck.outcome == "failed"
    assert "exceeded its progress deadline" in stuck.details["rollout"]["observed"]
    assert stuck.duration_s < 10
    health = target.health("demo-api")
    assert health.failed and "progress deadline" in str(health.observed)
    # the old pods kept serving while the new one crash-looped
    assert target.serving_version("demo-api") == "1.0.0"

    undone = target.rollback("demo-api", stuck.as_dict())
    assert undone.outcome == "done", undone.details
    assert (undone.version, undone.details["from_revision"], undone.details["to_revision"]) == ("1.0.0", 2, 1)
    assert target.serving_version("demo-api") == "1.0.0"
    assert target.health("demo-api").passed
    pods = k8s_sim.cluster.pods.values()
    assert all(p["spec"]["containers"][0]["image"] == f"{IMAGE}:1.0.0" for p in pods)


def test_undo_goes_to_the_previous_revision_like_kubectl_and_is_idempotent(kubeconfig: Path) -> None:
    target = make_target(kubeconfig)
    target.deploy("demo-api", "1.0.0")
    record = target.deploy("demo-api", "1.1.0")
    undone = target.rollback("demo-api", record.as_dict())
    assert undone.outcome == "done" and undone.version == "1.0.0"
    dep = target.get_deployment("demo-api")
    assert dep is not None
    # the ReplicaSet of 1.0.0 came back with the next revision number, as on a real cluster
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    revisions = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs["metadata"]["annotations"]
                 ["deployment.kubernetes.io/revision"] for rs in target.replicasets(dep)}
    assert revisions == {f"{IMAGE}:1.0.0": "3", f"{IMAGE}:1.1.0": "2"}

    again = target.rollback("demo-api", record.as_dict())
    assert again.outcome == "done" and "skipped" in again.details
    assert target.get_deployment("demo-api")["metadata"]["generation"] == dep["metadata"]["generation"]  # type: ignore[index]


def test_namespace_comes_from_the_kubeconfig_context_and_manifests_from_files(
    kubeconfig: Path, tmp_path: Path, k8s_sim: SimulatedCluster
) -> None:
    manifest = tmp_path / "api.yaml"
    manifest.write_text(yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "docsense-backend"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "backend"}},
                 "template": {"metadata": {"labels": {"app": "backend"}},
                              "spec": {"containers": [{"name": "api", "image": "placeholder"}]}}},
    }))
    target = make_target(kubeconfig, context="other", manifests={"demo-api": str(manifest)},
                         deployments={"demo-api": "docsense-backend"})
    assert target.namespace == "other"
    assert target.deploy("demo-api", "1.0.0").outcome == "done"
    assert ("other", "docsense-backend") in k8s_sim.cluster.deployments
    assert target.serving_version("demo-api") == "1.0.0"


def test_unreachable_api_and_missing_kubeconfig_are_clear_errors(tmp_path: Path, kubeconfig: Path) -> None:
    with pytest.raises(TargetUnreachable, match=r"kubeconfig .* does not exist"):
        make_target(tmp_path / "nope").check_reachable()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    config = yaml.safe_load(kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{closed_port}"
    away = tmp_path / "away"
    away.write_text(yaml.safe_dump(config))
    with pytest.raises(TargetUnreachable, match="unreachable"):
        make_target(away, request_timeout_s=1).check_reachable()

    config = yaml.safe_load(kubeconfig.read_text())
    config["users"][0]["user"]["token"] = "wrong-token-1234"
    wrong = tmp_path / "wrong"
    wrong.write_text(yaml.safe_dump(config))
    with pytest.raises(TargetUnreachable, match="credentials") as raised:
        make_target(wrong).check_reachable()
    assert "wrong-token-1234" not in str(raised.value)


def test_strategies_on_kubernetes_use_the_deployment_strategy_and_undo_from_a_journal_record(
    kubeconfig: Path, k8s_sim: SimulatedCluster
) -> None:
    target = make_target(kubeconfig)
    first = strategies.deploy(target, "demo-api", "1.0.0", "recreate")
    assert first.passed, first.result.summary()
    dep = target.get_deployment("demo-api")
    assert dep is not None and dep["spec"]["strategy"]["type"] == "Recreate"
    assert "rollingUpdate" not in dep["spec"]["strategy"]

    rolled = strategies.deploy(target, "demo-api", "1.1.0", "rolling")
    assert rolled.passed, rolled.result.summary()
    dep = target.get_deployment("demo-api")
    assert dep is not None and dep["spec"]["strategy"]["type"] == "RollingUpdate"
    record = json.loads(json.dumps(rolled.record.as_dict()))  # as the journal keeps it
    undo = "releasegate.checks.deploy.strategies:rollback_rolling"
    assert (record["previous_version"], record["undo"]) == ("1.0.0", undo)

    undone = strategies.rollback(record)
    assert undone.passed, undone.summary()
    assert target.serving_version("demo-api") == "1.0.0"
    assert strategies.rollback(record).passed  # already at 1.0.0: nothing to do
