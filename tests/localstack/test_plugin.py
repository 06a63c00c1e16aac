"""plugins/stack.py starts nothing unless a test runs that needs the stack; bad stack settings are one line."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from releasegate.checks.errors import ConfigError, RunbookSchemaError
from releasegate.checks.runbook.loader import load_runbook
from releasegate.localstack import StackConfig

PORTS = {"pg": 18090, "prometheus": 18091, "router": 18092}

RUNBOOK = """\
name: local
services:
  - name: demo-api
    base_url: http://127.0.0.1:{router}
database:
  dsn: postgresql://demo_app:pw-app-1@127.0.0.1:{pg}/demo
  admin_dsn: postgresql://demo_owner:pw-owner-1@127.0.0.1:{pg}/demo
prometheus:
  url: http://127.0.0.1:{prometheus}
stack:
  kind: local
  root: {root}
  instance_ports: 18093-18094
"""

TEST_FILE = """\
def test_needs_stack(local_stack):
    assert local_stack is not None
"""


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def project(rg_project: Callable[..., pytest.Pytester]) -> tuple[pytest.Pytester, Path]:
    pytester = rg_project()
    root = pytester.path / "stackroot"
    runbook = RUNBOOK.format(root=root, **PORTS)
    (pytester.path / "runbooks").mkdir(exist_ok=True)
    (pytester.path / "runbooks" / "local.yaml").write_text(runbook)
    pytester.makepyfile(test_uses_stack=TEST_FILE)
    return pytester, root


@pytest.mark.parametrize("args", [["--collect-only"], ["--help"], ["--dry-run", "-p", "no:cacheprovider"]])
def test_collect_help_and_dry_run_start_nothing(project: tuple[pytest.Pytester, Path], args: list[str]) -> None:
    pytester, root = project
    result = pytester.runpytest_subprocess("test_uses_stack.py", *args)
    assert result.ret in (0, 5), result.stdout.str() + result.stderr.str()
    assert not root.exists(), f"{' '.join(args)} created {root}"
    assert not any(_listening(port) for port in PORTS.values())
    assert "Traceback (most recent call last)" not in result.stdout.str() + result.stderr.str()


FEATURE = """\
Feature: stack
  @preflight
  Scenario: look around
    Given nothing happens
"""

STEPS = """\
from pytest_bdd import given

from releasegate.plugins.dryrun import read_only

@given("nothing happens")
@read_only
def _nothing():
    pass
"""


def test_feature_scenarios_request_the_stack_and_dry_run_only_reports(
    rg_project: Callable[..., pytest.Pytester],
) -> None:
    pytester = rg_project(features={"stack": FEATURE}, steps=STEPS)
    root = pytester.path / "stackroot"
    (pytester.path / "runbooks").mkdir(exist_ok=True)
    (pytester.path / "runbooks" / "local.yaml").write_text(RUNBOOK.format(root=root, **PORTS))
    result = pytester.runpytest_subprocess("features/stack.feature", "--env", "local", "--dry-run", "-s")
    output = result.stdout.str()
    assert "local-stack: dry run, not started:" in output, output
    assert "MISSING  postgresql" in output
    assert not root.exists()
    assert not any(_listening(port) for port in PORTS.values())


def test_stack_settings_come_from_the_runbook(tmp_path: Path) -> None:
    path = tmp_path / "local.yaml"
    path.write_text(RUNBOOK.format(root=tmp_path / "s", **PORTS))
    config = StackConfig.from_runbook(load_runbook(path, {}))
    assert config.pg_port == PORTS["pg"]
    assert config.prometheus_url == f"http://127.0.0.1:{PORTS['prometheus']}"
    assert config.router_listen == f"127.0.0.1:{PORTS['router']}"
    assert config.instance_ports == (18093, 18094)
    assert config.app_dsn.startswith("postgresql://demo_app:pw-app-1@")
    assert "pw-owner-1" not in repr(config)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("  prometheus_prot: 1\n", r"local\.yaml:14: stack\.prometheus_prot: unknown field"),
        ("  images: [1.0.0, 1.1.0-typo]\n", r"local\.yaml: stack\.images: unknown build '1\.1\.0-typo'; known: 1\.0"),
    ],
)
def test_bad_stack_settings_are_one_clear_line(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "local.yaml"
    path.write_text(RUNBOOK.format(root=tmp_path / "s", **PORTS) + extra)
    with pytest.raises(ConfigError, match=message) as info:
        StackConfig.from_runbook(load_runbook(path, {}))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kind", "kubernetes", r":11: stack\.kind: Input should be 'local'"),
        ("instance_ports", "'18093-'", r":13: stack\.instance_ports: expected a range such as '18001-18019' or a list"),
        ("instance_ports", "[0, 18094]", r":13: stack\.instance_ports: ports must be between 1 and 65535"),
    ],
)
def test_the_stack_section_is_validated_with_its_line(tmp_path: Path, field: str, value: str, message: str) -> None:
    path = tmp_path / "local.yaml"
    text = RUNBOOK.format(root=tmp_path / "s", **PORTS)
    path.write_text("\n".join(f"  {field}: {value}" if line.startswith(f"  {field}:") else line
                              for line in text.splitlines()) + "\n")
    with pytest.raises(RunbookSchemaError, match=f"^{path}{message}"):
        load_runbook(path, {})


def test_an_empty_stack_section_starts_nothing(tmp_path: Path) -> None:
    path = tmp_path / "local.yaml"
    path.write_text(RUNBOOK.format(root=tmp_path / "s", **PORTS).split("stack:")[0] + "stack: {}\n")
    assert load_runbook(path, {}).stack is None


def test_shipped_local_runbook_describes_the_stack() -> None:
    config = StackConfig.load()
    assert (config.pg_port, config.prometheus_port, config.router_listen) == (55432, 19090, "127.0.0.1:8080")
    assert config.instance_ports == tuple(range(18001, 18020))
    assert config.root == (Path(__file__).resolve().parents[2] / ".stack").resolve()
    assert (config.owner.name, config.app.name, config.readonly.name) == ("demo_owner", "demo_app", "demo_readonly")
