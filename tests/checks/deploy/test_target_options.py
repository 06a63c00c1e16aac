"""Typed target and router options: validated by kind with the runbook's file and line, paths made absolute."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from releasegate.checks.deploy.strategies.base import new_record
from releasegate.checks.deploy.targets.base import get_target, target_from_record
from releasegate.checks.deploy.targets.compose import ComposeTarget
from releasegate.checks.errors import RunbookSchemaError
from releasegate.checks.runbook.loader import load_runbook

RUNBOOK = """\
name: local
services:
  - {name: demo-api, base_url: "http://127.0.0.1:18199"}
targets:
  - name: compose
    kind: compose
    options:
      file: deploy/compose.yml
      services:
        demo-api:
          - {name: api-blue, port: 18001}
          - {name: api-green, port: 18002}
deploy:
  router:
    kind: nginx
    options: {config_dir: .stack/nginx}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "runbooks" / "local.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_options_are_typed_by_kind_and_paths_are_relative_to_the_project(tmp_path: Path) -> None:
    runbook = load_runbook(_write(tmp_path, RUNBOOK))
    target = get_target(runbook.target(), runbook)
    assert isinstance(target, ComposeTarget)
    assert target.file == tmp_path / "deploy" / "compose.yml"
    assert target.override == tmp_path / ".stack" / "compose" / "deploy.override.yml"
    assert [(s.name, s.port, s.colour) for s in target.slots("demo-api")] == [
        ("api-blue", 18001, "blue"), ("api-green", 18002, "green")]
    record = new_record(target, "demo-api", "1.1.0", "recreate", None).as_dict()
    assert record["target"]["options"]["file"] == str(tmp_path / "deploy" / "compose.yml")  # any cwd finds it
    rebuilt = target_from_record(new_record(target, "demo-api", "1.1.0", "recreate", None))
    assert isinstance(rebuilt, ComposeTarget) and rebuilt.file == target.file


@pytest.mark.parametrize(("old", "new", "message"), [
    ("      file: deploy/compose.yml\n", "      file: deploy/compose.yml\n      state_dri: .state\n",
     ":9: targets[0].options.state_dri: unknown field"),
    ("          - {name: api-green, port: 18002}", "          - {name: api-green}",
     ":12: targets[0].options.services.demo-api[1].port: required field is missing"),
    ("    options: {config_dir: .stack/nginx}", "    options: {config_dri: .stack/nginx}",
     ":16: deploy.router.options.config_dri: unknown field"),
    ("    kind: compose\n", "    kind: nomad\n",
     ":5: targets[0]: unknown target kind 'nomad' (target 'compose'); use one of: compose, docker, host, kubernetes"),
])
def test_a_wrong_option_is_one_line_with_file_and_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in RUNBOOK
    path = _write(tmp_path, RUNBOOK.replace(old, new))
    with pytest.raises(RunbookSchemaError) as raised:
        load_runbook(path)
    assert str(raised.value).startswith(f"{path}{message}"), str(raised.value)
