"""The stack's components without running them: what they write and how they name what runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from releasegate.checks.errors import CheckError
from releasegate.checks.runbook.loader import load_runbook
from releasegate.localstack import StackConfig, instance_labels
from releasegate.localstack.prometheus import RULES, config_text


def test_prometheus_scrapes_only_the_stack_ports_and_loads_the_rule_file(tmp_path: Path) -> None:
    config = StackConfig(root=tmp_path, instance_ports=(18003, 18004))
    settings = yaml.safe_load(config_text(config))
    assert settings["rule_files"] == [str(tmp_path / "prometheus" / "rules.yml")]
    keep = settings["scrape_configs"][0]["relabel_configs"][1]
    assert keep == {"source_labels": ["__address__"], "regex": r"127\.0\.0\.1:(18003|18004)", "action": "keep"}
    alerts = [rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    assert alerts == ["HighErrorRate", "HighLatencyP95", "ServiceDown"]


def test_a_root_reached_through_a_symlink_is_named_as_it_was_started(tmp_path: Path) -> None:
    # the stack's processes are recognised by the paths on their command lines (nginx -c <root>/nginx/...)
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    runbook = tmp_path / "local.yaml"
    runbook.write_text(f"name: local\nstack:\n  root: {tmp_path / 'link'}\n")
    config = StackConfig.from_runbook(load_runbook(runbook, {}))
    real = (tmp_path / "real").resolve()
    assert (config.root, config.nginx_dir) == (real, real / "nginx")


def test_instance_labels_refuse_a_port_outside_the_stack() -> None:
    config = StackConfig(instance_ports=(18003, 18004, 18005))
    assert instance_labels(config, 18004, "1.1.0", "green")["org.releasegate.colour"] == "green"
    with pytest.raises(CheckError, match=r"port 18001 is not one of the stack's instance ports 18003-18005"):
        instance_labels(config, 18001, "1.1.0")
