from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from packaging.version import Version

from releasegate.checks.preflight import host, tools
from releasegate.checks.result import Outcome


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("Docker version 20.10.24+dfsg1, build 297e128", "20.10.24"),
        ("Docker Compose version v2.24.5", "2.24.5"),
        ("docker-compose version 1.29.2, build unknown", "1.29.2"),
        ("psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", "15.18"),
        ("Client Version: v1.32.4-dispatcher\nKustomize Version: v5.5.0", "1.32.4"),
        ("git version 2.39.5", "2.39.5"),
        ("Python 3.11.7", "3.11.7"),
        ("no digits here", None),
    ],
)
def test_parse_version(output: str, version: str | None) -> None:
    assert tools.parse_version(output) == (Version(version) if version else None)


def test_compare_versions() -> None:
    assert Version("20.10.24") >= tools.minimum_version("20.10")
    assert Version("2.0") >= tools.minimum_version("2")
    assert not Version("1.29.2") >= tools.minimum_version("2.0")
    assert tools.version_tuple("15.2") == (15, 2)
    for bad in ("latest", "2.0rc1", ""):
        with pytest.raises(ValueError, match=r"is not a version such as 20\.10 or 2\.0"):
            tools.minimum_version(bad)


@pytest.mark.parametrize("tool", ["git", "python3", "psql", "docker"])
def test_real_tools_meet_a_low_minimum_and_fail_an_impossible_one(tool: str) -> None:
    ok = tools.check_tool(tool, "1.0")
    assert ok.outcome is Outcome.PASS, ok.summary()
    assert ok.observed.startswith(f"{tool} ")
    too_new = tools.check_tool(tool, "999.0")
    assert too_new.outcome is Outcome.FAIL
    assert "upgrade" in too_new.detail


def test_reported_version_is_the_one_the_tool_prints() -> None:
    printed = subprocess.run(["git", "--version"], capture_output=True, text=True, check=True).stdout
    assert tools.check_tool("git").observed == f"git {tools.parse_version(printed)}"


def test_missing_tool_is_a_clear_failure() -> None:
    result = tools.check_tool("releasegate-no-such-tool", "1.0")
    assert result.outcome is Outcome.FAIL
    assert result.observed == "not installed"
    assert "not installed on this machine" in result.detail and "PATH" in result.detail


def test_docker_compose_uses_plugin_or_standalone() -> None:
    """Both forms of Compose are tried in order; the verdict follows the version installed here."""
    result = tools.check_tool("docker compose", "2.0")
    commands = [c["command"] for c in result.evidence["commands"]]
    assert commands[0] == "docker compose version"
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if plugin.returncode == 0:
        printed: str | None = plugin.stdout
    elif shutil.which("docker-compose"):
        printed = subprocess.run(["docker-compose", "--version"], capture_output=True, text=True).stdout
        assert commands == ["docker compose version", "docker-compose --version"]
    else:
        printed = None
    if printed is None:
        assert result.outcome is Outcome.FAIL and "docker compose is not" in result.detail
        return
    version = tools.parse_version(printed)
    assert version is not None
    assert result.observed == f"docker compose {version}"
    assert result.passed is (version >= Version("2.0")), result.summary()


def test_tool_on_a_testinfra_host() -> None:
    result = tools.check_tool("git", "2.0", host.runner_for("local://"))
    assert result.passed
    assert result.evidence["where"] == "local://"


def test_cpu_cores_match_nproc() -> None:
    cores = os.cpu_count() or 1
    nproc = int(subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout)
    assert host.check_cpu_cores(1).passed
    assert host.check_cpu_cores(nproc).observed == f"{nproc} cores"
    assert host.check_cpu_cores(cores + 1000).outcome is Outcome.FAIL


def test_memory_against_proc_meminfo() -> None:
    total_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                    if line.startswith("MemTotal:"))
    total_gb = total_kb * 1024 / 1e9
    assert host.check_memory(total_gb * 0.9).passed
    failing = host.check_memory(total_gb * 1.1 + 1)
    assert failing.outcome is Outcome.FAIL
    assert failing.evidence["MemTotal_bytes"] == total_kb * 1024


def test_free_disk_against_statvfs(tmp_path: Path) -> None:
    stats = os.statvfs(tmp_path)
    free_gb = stats.f_bavail * stats.f_frsize / 1e9
    assert host.check_free_disk(max(free_gb * 0.5, 0.001), str(tmp_path)).passed
    assert host.check_free_disk(free_gb * 2 + 1000, str(tmp_path)).outcome is Outcome.FAIL


def test_free_disk_at_a_missing_path_is_inconclusive() -> None:
    result = host.check_free_disk(1, "/releasegate/no/such/path")
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "No such file" in result.detail


def test_unreachable_ssh_host_is_inconclusive_not_a_pass() -> None:
    result = host.check_cpu_cores(1, "ssh://nobody@127.0.0.1:1?timeout=3")
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "127.0.0.1" in result.detail


def test_docker_backend_runs_inside_the_container(probe_container: str) -> None:
    spec = f"docker://{probe_container}"
    cores = host.check_cpu_cores(1, spec)
    assert cores.passed and cores.observed == "1 cores", cores.summary()  # pinned with --cpuset-cpus=0
    assert host.check_cpu_cores(2, spec).outcome is Outcome.FAIL
    disk = host.check_free_disk(0.001, "/", spec)
    assert disk.passed and disk.evidence["filesystem"] == "overlay", disk.summary()
    assert host.check_memory(0.1, spec).passed
    no_git = tools.check_tool("git", None, host.runner_for(spec))
    assert no_git.outcome is Outcome.FAIL and spec in no_git.detail


def test_missing_container_is_inconclusive(docker_daemon: None) -> None:
    result = host.check_cpu_cores(1, "docker://releasegate-no-such-container")
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "No such container" in result.detail
