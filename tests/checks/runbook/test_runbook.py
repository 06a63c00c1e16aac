"""The runbook loader: variables, secrets, and one-line errors naming file, line and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from releasegate.checks import secrets
from releasegate.checks.errors import (
    ConfigError,
    MissingVariable,
    NotInRunbook,
    RunbookSchemaError,
    RunbookSyntaxError,
    UnknownEnvironment,
)
from releasegate.checks.runbook import Runbook, load_runbook, runbook_path

REPO_ROOT = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str, name: str = "prod") -> Path:
    path = tmp_path / "runbooks" / f"{name}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_variables_resolve_with_defaults_and_secrets_are_registered(tmp_path: Path) -> None:
    secrets.clear()
    path = write(
        tmp_path,
        """
name: prod
services:
  - name: api
    base_url: ${API_URL:-http://127.0.0.1:9000}
database:
  dsn: postgresql://app:${DB_PASSWORD}@db:5432/app
notifications:
  webhook_url: https://hooks.example.test/${SLACK_TOKEN}
""",
    )
    runbook = load_runbook(path, {"DB_PASSWORD": "s3cr3t-pw", "SLACK_TOKEN": "xoxb-token-1"}, release="2.0.0")
    assert runbook.service("api").base_url == "http://127.0.0.1:9000"
    assert runbook.version_to == "2.0.0"
    assert {"s3cr3t-pw", "xoxb-token-1"} <= secrets.registered()
    assert "s3cr3t-pw" not in secrets.redact(f"connect to {runbook.database.dsn}")


def test_missing_variable_names_variable_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\ndatabase:\n  dsn: postgresql://u:${DB_PASSWORD}@h/db\n")
    with pytest.raises(MissingVariable) as error:
        load_runbook(path, {})
    message = str(error.value)
    assert f"{path}:3:" in message
    assert "database.dsn" in message and "DB_PASSWORD" in message
    assert "\n" not in message


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\nservices:\n  - name: api\n    base_url: [unclosed\n")
    with pytest.raises(RunbookSyntaxError) as error:
        load_runbook(path, {})
    assert str(error.value).startswith(f"{path}:5:1: YAML syntax error") or f"{path}:" in str(error.value)
    assert "\n" not in str(error.value)


def test_schema_error_names_field_path_expected_and_got(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\nservices:\n  - name: api\n    base_url: http://x\n    port: lots\n")
    with pytest.raises(RunbookSchemaError) as error:
        load_runbook(path, {})
    message = str(error.value)
    assert message.startswith(f"{path}:5: services[0].port:")
    assert "integer" in message and "'lots'" in message


def test_unknown_field_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\nslo:\n  eror_rate_max: 0.01\n")
    with pytest.raises(RunbookSchemaError, match=r"prod.yaml:3: slo.eror_rate_max: unknown field"):
        load_runbook(path, {})


def test_bad_canary_weights_are_explained(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\ndeploy:\n  canary_weights: [50, 25]\n")
    with pytest.raises(RunbookSchemaError, match="increasing percentages ending at 100"):
        load_runbook(path, {})


def test_unknown_environment_lists_the_available_ones(tmp_path: Path) -> None:
    write(tmp_path, "name: a\n", "alpha")
    write(tmp_path, "name: b\n", "beta")
    with pytest.raises(UnknownEnvironment, match="available environments: alpha, beta"):
        runbook_path(tmp_path / "runbooks", "gamma")


def test_dotenv_files_feed_variables(tmp_path: Path) -> None:
    (tmp_path / ".env.production").write_text("API_URL=http://127.0.0.1:7000\nJWT_SECRET_KEY=abcdefgh123\n")
    path = write(
        tmp_path, "name: prod\nenv_files: [.env.production]\nservices:\n  - name: api\n    base_url: ${API_URL}\n"
    )
    runbook = load_runbook(path, {})
    assert runbook.service("api").base_url == "http://127.0.0.1:7000"
    assert "abcdefgh123" in secrets.registered()


def example_value(name: str) -> str:
    """A value of the kind a user exports for the variable ``name`` (a URL for *_URL, a host name for *_HOST)."""
    if name == "DOCKER_HOST":
        return "ssh://deploy@docker.example.com"
    if name.endswith("_URL"):
        return f"https://hooks.example.com/{name.lower()}"
    if name.endswith("_HOST"):
        return f"{name.lower().replace('_', '-')}.example.com"
    return "value-of-" + name.lower()


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "runbooks").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_runbook_validates(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every runbook in runbooks/ is valid once the variables a user must export are set."""
    for name in set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", path.read_text())):
        monkeypatch.setenv(name, example_value(name))
    runbook = load_runbook(path)
    assert runbook.name == path.stem or path.stem.startswith("seed-"), runbook.name
    if runbook.database is not None and runbook.database.migrations.run == "container":
        assert runbook.database.migrations.image or runbook.database.migrations.container, \
            f"{path.name}: migrations run in a container but name no image or container"


def test_lookup_finds_named_entries_or_names_the_known_ones() -> None:
    runbook = Runbook.model_validate({
        "name": "prod",
        "services": [{"name": "api", "base_url": "http://127.0.0.1:9000"},
                     {"name": "web", "base_url": "http://127.0.0.1:9001"}],
        "targets": [{"name": "edge", "kind": "docker"}],
        "load": {"smoke": {"endpoints": [{"path": "/"}], "stages": [{"duration_s": 1, "users": 1}]}},
        "commands": {"lint": "make lint"},
    })
    assert runbook.lookup("services", "web").base_url == "http://127.0.0.1:9001"
    assert runbook.lookup("targets", "edge").kind == "docker"
    assert runbook.lookup("load", "smoke").stages[0].users == 1
    assert runbook.lookup("commands", "lint").run == "make lint"
    assert runbook.service("api") is runbook.lookup("services", "api")
    assert runbook.target() is runbook.lookup("targets", "edge")
    with pytest.raises(NotInRunbook) as missing:
        runbook.lookup("services", "nope")
    assert str(missing.value) == "no service named 'nope' in runbook 'prod'; known: api, web"
    assert (missing.value.known, missing.value.known_text) == (["api", "web"], "api, web")
    # callers written against KeyError and against ConfigError both keep working
    with pytest.raises(KeyError, match="no load profile named 'heavy' in runbook 'prod'; known: smoke"):
        runbook.lookup("load", "heavy")
    with pytest.raises(ConfigError, match="no target named 'core' in runbook 'prod'; known: edge"):
        runbook.target("core")
    with pytest.raises(NotInRunbook, match="no target named None in runbook 'empty'; known: none"):
        Runbook.model_validate({"name": "empty"}).target()
