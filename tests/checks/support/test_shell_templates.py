"""Runbook shell templates (checks/_support/shell.py): a value is one quoted word, never code."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support import hostile

from releasegate.checks._support import shell
from releasegate.checks.errors import ConfigError
from releasegate.checks.runbook.loader import load_runbook

FIELDS = ("service", "version", "image")


def run(line: str, cwd: Path) -> str:
    return subprocess.run(shell.shell_argv(line), cwd=cwd, capture_output=True, text=True, timeout=30,
                          check=True).stdout


@pytest.mark.parametrize("template", [
    "printf '%s\\n' {version} > out",
    "printf '%s\\n' x{version}y > out",
    "printf '%s\\n' --{version}-- >out; true",
    "V={version}; printf '%s\\n' \"$V\" > out",
    "cd . && printf '%s\\n' {version} | cat > out",
    "printf '%s\\n' {{literal}}{version} > out",
])
def test_every_hostile_value_arrives_as_one_word_and_runs_nothing(template: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for value, _ in hostile.values(tmp_path / "markers"):
        (tmp_path / "out").unlink(missing_ok=True)
        run(shell.fill(template, {"version": value}), tmp_path)
        written = (tmp_path / "out").read_bytes().decode()
        assert value in written, (template, value, written)
    assert hostile.left_behind(tmp_path) == []


@pytest.mark.parametrize(("template", "message"), [
    ("echo '{version}'", "inside quotes"),
    ('echo "{version}"', "inside quotes"),
    ("echo `echo {version}`", "backticks"),
    ("echo x\\{version}", "backslash"),
    ("echo ${version}", "follows a '$'"),
    ("cat <<EOF\n{version}\nEOF", "here-document"),
    ("echo {version!r}", "not a plain name"),
    ("echo {version:>10}", "not a plain name"),
    ("echo {version.__class__}", "not a plain name"),
    ("echo {version[0]}", "not a plain name"),
    ("echo {0}", "not a plain name"),
    ("echo {}", "not a plain name"),
    ("echo {revision}", "unknown placeholder {revision}; placeholders here: {service}, {version}, {image}"),
    ("awk '{print $1}'", "write {{ and }} for a literal brace"),
    ("echo } {version}", "Single '}'"),
    ("echo 'unclosed {version}", "cannot read it as a shell command line"),
])
def test_templates_where_a_quoted_value_could_still_change_the_command_are_refused(template: str,
                                                                                    message: str) -> None:
    with pytest.raises(shell.ShellTemplateError) as caught:
        shell.check_template(template, FIELDS)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ConfigError)


def test_safe_templates_pass_unchanged_and_double_braces_are_literal() -> None:
    for template in ("systemctl restart demo@{version}", "deploy --image={image} -- {service}",
                     "echo $(cat /srv/{service}/VERSION)", "cat <<< {version}", "awk '{{print $1}}' f {version}",
                     "V={version} ./deploy.sh && echo done # {service}"):
        assert shell.check_template(template, FIELDS) == template
    assert shell.fill("awk '{{print $1}}' {version}", {"version": "1.0"}) == "awk '{print $1}' 1.0"


def test_a_nul_byte_in_a_value_is_an_error_not_a_traceback_of_the_process_call() -> None:
    with pytest.raises(shell.ShellTemplateError, match=r"value of \{version\} holds a NUL byte"):
        shell.fill("deploy {version}", {"version": "1.0\x00; touch x"})


def test_a_value_that_is_not_known_is_an_error_not_an_empty_word() -> None:
    with pytest.raises(shell.ShellTemplateError, match=r"needs \{previous_version\}, which is not known"):
        shell.fill("rollback --to {previous_version}", {"version": "1.1.0", "previous_version": None})
    assert shell.fill("rollback --to {version}", {"version": "1.1.0", "previous_version": None}) == \
        "rollback --to 1.1.0"


def test_argument_lists_keep_values_whole_and_shell_scripts_in_them_are_quoted(tmp_path: Path) -> None:
    for value, _ in hostile.values(tmp_path / "markers"):
        assert shell.fill_argv(["alembic", "downgrade", "{revision}"], {"revision": value})[-1] == value
        for argv in (["sh", "-c", "printf '%s' {revision} > out"], ["/bin/bash", "-ec", "printf '%s' {revision} > out"],
                     ["bash", "-o", "pipefail", "-c", "printf '%s' {revision} > out"]):
            filled = shell.fill_argv(argv, {"revision": value})
            subprocess.run(filled, cwd=tmp_path, check=True, timeout=30)
            assert (tmp_path / "out").read_bytes().decode() == value
    assert hostile.left_behind(tmp_path) == []
    with pytest.raises(shell.ShellTemplateError, match="inside quotes"):
        shell.check_argv(["sh", "-c", "alembic downgrade '{revision}'"], ("revision",))
    assert shell.check_argv(["echo", "'{revision}'"], ("revision",)) == ["echo", "'{revision}'"]  # no shell reads it


RUNBOOK = """name: t
services:
  - {{name: api, base_url: "http://127.0.0.1:9"}}
targets:
  - name: box
    kind: host
    options:
      deploy_command: {deploy}
rollback:
  commands:
    - stage: deploy
      run: {rollback}
database:
  dsn: postgresql://u@127.0.0.1/db
  migrations:
    run: container
    container: api
    downgrade_command: {downgrade}
"""


@pytest.mark.parametrize(("deploy", "rollback", "downgrade", "where"), [
    ('"echo \'{version}\'"', "echo ok", '["alembic", "downgrade", "{revision}"]',
     ":8: targets[0].options.deploy_command: a placeholder stands inside quotes"),
    ('"echo {version}"', '"echo \\"{previous_version}\\""', '["alembic", "downgrade", "{revision}"]',
     ":12: rollback.commands[0].run: a placeholder stands inside quotes"),
    ('"echo {version}"', "\"awk '{print $1}' f\"", '["alembic", "downgrade", "{revision}"]',
     ":12: rollback.commands[0].run: placeholder {print $1} is not a plain name"),
    ('"echo {version}"', '"rollback --to {image}"', '["alembic", "downgrade", "{revision}"]',
     ":12: rollback.commands[0].run: unknown placeholder {image}; placeholders here: {version}, {previous_version}"),
    ('"echo {version}"', "echo ok", '["sh", "-c", "alembic downgrade \'{revision}\'"]',
     ":18: database.migrations.downgrade_command: a placeholder stands inside quotes"),
])
def test_the_runbook_refuses_an_unsafe_template_in_one_line_naming_file_line_and_field(
        tmp_path: Path, deploy: str, rollback: str, downgrade: str, where: str) -> None:
    path = tmp_path / "runbooks" / "t.yaml"
    path.parent.mkdir()
    path.write_text(RUNBOOK.format(deploy=deploy, rollback=rollback, downgrade=downgrade))
    with pytest.raises(ConfigError) as caught:
        load_runbook(path, environ={})
    text = str(caught.value)
    assert text.startswith(f"{path}{where}"), text
    assert "\n" not in text


def test_a_runbook_with_safe_templates_loads_them_as_written(tmp_path: Path) -> None:
    path = tmp_path / "runbooks" / "t.yaml"
    path.parent.mkdir()
    path.write_text(RUNBOOK.format(deploy='"systemctl restart demo@{version}"',
                                   rollback='"./rollback.sh --to {previous_version}"',
                                   downgrade='["sh", "-c", "alembic downgrade {revision}"]'))
    runbook = load_runbook(path, environ={})
    assert runbook.targets[0].options.model_dump()["deploy_command"] == "systemctl restart demo@{version}"
    assert runbook.rollback.commands[0].run == "./rollback.sh --to {previous_version}"
