from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from releasegate.checks.preflight import files, net
from releasegate.checks.result import Outcome


def test_open_and_closed_port() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert net.check_tcp_port("127.0.0.1", port).passed
    closed = net.check_tcp_port("127.0.0.1", port)
    assert closed.outcome is Outcome.FAIL
    assert "not accepting connections" in closed.detail


def test_port_on_a_name_that_does_not_resolve_is_inconclusive() -> None:
    result = net.check_tcp_port("releasegate-no-such-host.invalid", 5432)
    assert result.outcome is Outcome.INCONCLUSIVE


def test_dns() -> None:
    assert net.check_dns("localhost").passed
    assert net.check_dns("localhost", "127.0.0.1").passed
    assert net.check_dns("localhost", "10.9.9.9").outcome is Outcome.FAIL
    missing = net.check_dns("releasegate-no-such-host.invalid")
    assert missing.outcome is Outcome.FAIL and missing.observed == "does not resolve"


def test_docker_daemon_reachable_with_its_engine_version(docker_daemon: None) -> None:
    import docker

    client = docker.from_env()
    engine = client.version()["Version"]
    client.close()
    result = net.check_docker_daemon(minimum="1.0")
    assert result.passed, result.summary()
    assert result.evidence["version"] == engine
    assert net.check_docker_daemon(minimum="999.0").outcome is Outcome.FAIL


def test_free_disk_for_docker_images(docker_daemon: None) -> None:
    import docker

    client = docker.from_env()
    root_dir = client.info()["DockerRootDir"]
    client.close()
    result = net.check_docker_image_space(0.001)
    assert result.passed, result.summary()
    assert result.evidence["docker_root_dir"] == root_dir
    assert result.evidence["command"] == f"df -Pk {root_dir}"
    assert net.check_docker_image_space(10**7).outcome is Outcome.FAIL
    assert net.check_docker_image_space(1, "tcp://127.0.0.1:1", timeout_s=2).outcome is Outcome.INCONCLUSIVE
    assert net.docker_host_spec("ssh://deploy@docker-host") == "ssh://deploy@docker-host"
    assert net.docker_host_spec("tcp://10.0.0.5:2376") is None


def test_docker_host_variable_is_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    result = net.check_docker_daemon(timeout_s=3)
    assert result.outcome is Outcome.FAIL and result.observed == "not reachable"


def test_docker_daemon_unreachable_at_an_explicit_url() -> None:
    result = net.check_docker_daemon("tcp://127.0.0.1:1", timeout_s=3)
    assert result.outcome is Outcome.FAIL
    assert "tcp://127.0.0.1:1" in result.detail


def test_valid_files(tmp_path: Path) -> None:
    (tmp_path / "production.yaml").write_text("database:\n  pool: 10\n---\nsecond: doc\n")
    (tmp_path / "config.json").write_text(json.dumps({"a": [1, 2]}))
    (tmp_path / ".env.production").write_text("A=1\nexport B='two'\n# comment\n\n")
    (tmp_path / "deploy.sh").write_text("#!/bin/sh\n")
    for name in ("production.yaml", "config.json", ".env.production"):
        result = files.check_file(tmp_path / name)
        assert result.passed, result.summary()
        assert result.observed.startswith("valid ")
    assert files.check_file(tmp_path / "deploy.sh").observed == "present"


def test_broken_files_name_the_line_but_not_the_content(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("key: value\nother: [unclosed-secret-value\n")
    (tmp_path / "bad.json").write_text('{"a": 1,\n "b": }')
    (tmp_path / ".env").write_text("GOOD=1\nthis is not an assignment\n")
    yaml_result = files.check_file(tmp_path / "bad.yaml")
    assert yaml_result.failed and "line " in yaml_result.detail
    assert "unclosed-secret-value" not in yaml_result.to_json()
    json_result = files.check_file(tmp_path / "bad.json")
    assert json_result.failed and "line 2" in json_result.detail
    env_result = files.check_file(tmp_path / ".env")
    assert env_result.failed and "line 2" in env_result.detail


def test_format_can_be_forced_and_missing_files_fail(tmp_path: Path) -> None:
    (tmp_path / "settings.conf").write_text("{not json")
    assert files.check_file(tmp_path / "settings.conf", "JSON").failed
    assert files.check_file(tmp_path / "settings.conf", "yaml").failed
    missing = files.check_file(tmp_path / "infrastructure/config/production.yaml")
    assert missing.failed and missing.observed == "missing"
    assert files.check_file(tmp_path, None).observed == "not a regular file"
    with pytest.raises(ValueError, match="unknown file format"):
        files.check_file(tmp_path / "settings.conf", "XML")
