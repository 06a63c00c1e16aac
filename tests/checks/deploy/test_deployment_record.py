"""The one deployment record: the keys a journal holds, read back from older journals, rebuilt into a target."""

from __future__ import annotations

import json

from releasegate.checks.deploy.record import DeploymentRecord
from releasegate.checks.deploy.strategies.base import new_record
from releasegate.checks.deploy.targets.base import get_target, target_from_record
from releasegate.checks.deploy.targets.docker import DockerTarget
from releasegate.checks.runbook.model import Service
from releasegate.checks.runbook.model import Target as TargetSpec

JOURNAL_KEYS = {"strategy", "undo", "target", "service", "router", "version", "previous_version", "colour",
                "previous_colour", "image", "image_digest", "previous_image", "previous_image_digest", "slots",
                "outcome", "started_at", "steps", "duration_s"}
# as a journal of the releasegate before the record type kept it (stage_completed's undo params)
OLD = {"strategy": "blue-green", "undo": "releasegate.checks.deploy.strategies:rollback_blue_green",
       "target": {"name": "local", "kind": "docker", "url": None, "options": {"project": "rg", "ports": {}}},
       "service": {"name": "demo-api", "base_url": "http://127.0.0.1:18199", "image": "releasegate-demo",
                   "instances": 1, "env_names": ["SECRET_KEY"]},
       "router": {"kind": "nginx", "listen": "127.0.0.1:18209", "root": "/tmp/nginx"}, "version": "1.1.0",
       "previous_version": "1.0.0", "colour": "green", "previous_colour": "blue", "image": "releasegate-demo:1.1.0",
       "image_digest": "sha256:1", "previous_image": "releasegate-demo:1.0.0", "previous_image_digest": "sha256:0",
       "slots": [1], "outcome": "deployed", "started_at": 1.0, "steps": [{"at_s": 0.1, "step": "started"}],
       "switch_s": 0.2, "duration_s": 3.0, "a_key_of_the_future": True}


def test_a_strategy_record_holds_the_journal_keys_and_no_secret() -> None:
    service = Service(name="demo-api", base_url="http://127.0.0.1:18199", image="releasegate-demo",
                      env={"SECRET_KEY": "s3cret"})
    target = get_target(TargetSpec(name="local", kind="docker", options={"project": "rg"}), [service])
    record = new_record(target, "demo-api", "1.1.0", "recreate", {"kind": "none", "listen": "x:1", "root": "/r"})
    record.step("started", slot=0)
    data = record.finish("deployed").as_dict()
    assert set(data) == JOURNAL_KEYS
    assert data["undo"] == "releasegate.checks.deploy.strategies:rollback_recreate"
    assert data["target"] == {"name": "local", "kind": "docker", "url": None, "options": {"project": "rg"}}
    assert data["service"]["env_names"] == ["SECRET_KEY"] and "s3cret" not in json.dumps(data)
    assert DeploymentRecord.from_dict(json.loads(json.dumps(data))) == record


def test_an_older_journal_record_reads_back_and_rebuilds_its_target() -> None:
    record = DeploymentRecord.from_dict(OLD)
    assert (record.strategy, record.previous_colour, record.switch_s, record.steps) == (
        "blue-green", "blue", 0.2, OLD["steps"])
    assert record.as_dict() == {k: v for k, v in OLD.items() if k != "a_key_of_the_future"}
    target = target_from_record(record)
    assert isinstance(target, DockerTarget) and target.project == "rg" and target.service("demo-api").env == {}
