"""Bad runbooks, of every kind we could think of, each end in one ConfigError line naming file, line and field.

Reading (folders, FIFOs, symlink loops, bytes that are not UTF-8), YAML (repeated keys, alias bombs,
recursive aliases, deep nesting), ``${...}`` (empty, nested, malformed), versions and URLs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from releasegate.checks._support.files import MAX_NODES
from releasegate.checks.errors import (
    ConfigError,
    MissingVariable,
    RunbookSchemaError,
    RunbookSyntaxError,
    UnknownEnvironment,
    UnreadableFile,
)
from releasegate.checks.runbook import load_runbook, runbook_path
from releasegate.checks.runbook.model import check_version

SERVICE = "services:\n  - name: api\n    base_url: http://127.0.0.1:9\n"


def write(tmp_path: Path, text: str | bytes, name: str = "prod") -> Path:
    path = tmp_path / "runbooks" / f"{name}.yaml"
    path.parent.mkdir(exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, environ: dict[str, str] | None = None, **kwargs: str) -> str:
    with pytest.raises(ConfigError) as error:
        load_runbook(path, environ or {}, **kwargs)
    message = str(error.value)
    assert "\n" not in message and "\r" not in message, message
    return message


# --- reading ---------------------------------------------------------------------------------------------------


def test_a_runbook_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\ndescription: caf\xe9\n".encode("latin-1"))
    with pytest.raises(UnreadableFile, match=re.escape(f"{path}:2: the runbook is not UTF-8 text (byte 0xe9)")):
        load_runbook(path, {})


def test_a_runbook_that_is_a_folder_is_not_reported_missing(tmp_path: Path) -> None:
    folder = tmp_path / "runbooks" / "prod.yaml"
    folder.mkdir(parents=True)
    assert runbook_path(tmp_path / "runbooks", "prod") == folder  # listed, so it must be explained
    assert error_of(folder) == f"{folder}: the runbook is a folder; name a file"


def test_a_symlink_loop_is_a_read_error_not_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "runbooks" / "loop.yaml"
    path.parent.mkdir()
    path.symlink_to(path)
    assert runbook_path(tmp_path / "runbooks", "loop") == path
    message = error_of(path)
    assert message.startswith(f"{path}: cannot read the runbook: too many levels of symbolic links"), message


def test_a_dangling_symlink_says_so(tmp_path: Path) -> None:
    path = tmp_path / "runbooks" / "gone.yaml"
    path.parent.mkdir()
    path.symlink_to(tmp_path / "nowhere.yaml")
    assert error_of(path) == f"{path}: runbook does not exist (a symbolic link to nothing)"


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "runbooks" / "pipe.yaml"
    path.parent.mkdir()
    os.mkfifo(path)
    assert "is not a regular file" in error_of(path)


# --- YAML --------------------------------------------------------------------------------------------------------


def test_a_repeated_key_names_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\ndeploy:\n  strategy: rolling\n  target: x\n  strategy: canary\n")
    with pytest.raises(RunbookSyntaxError) as error:
        load_runbook(path, {})
    assert str(error.value) == f"{path}:5: duplicate key 'strategy' (first at line 3); keep one of them"


def test_a_repeated_top_level_section_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, 'name: prod\nrelease:\n  version: "1.1.0"\n  previous_version: "1.0.0"\n'
                           'release:\n  version: "1.2.0"\n')
    assert error_of(path) == f"{path}:5: duplicate key 'release' (first at line 2); keep one of them"


def test_quoting_a_key_does_not_hide_the_repetition(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\n'name': other\n")
    assert "duplicate key 'name' (first at line 1)" in error_of(path)


def test_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\ncommands:\n  base: &base {run: 'true', timeout_s: 5}\n"
                           "  other:\n    <<: *base\n    timeout_s: 9\n")
    assert load_runbook(path, {}).commands["other"].timeout_s == 9


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    lines = ["name: prod", 'a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 10)]  # 10**10 values
    path = write(tmp_path, "\n".join(lines) + "\n")
    message = error_of(path)
    assert f"the YAML expands to more than {MAX_NODES} values" in message, message


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\nservices:\n  - &api {name: api, base_url: 'http://127.0.0.1:9'}\n"
                           "deploy: {order: [api]}\n")
    assert load_runbook(path, {}).service("api").base_url == "http://127.0.0.1:9"


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\nsecrets: &s [a, *s]\n")
    assert "a YAML alias refers to the collection that contains it" in error_of(path)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\ndescription: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "YAML nested too deeply" in error_of(path)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a list\n", "just text\n", "---\n...\n"])
def test_a_runbook_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    assert error_of(path) == f"{path}:1: expected a mapping of runbook settings at the top level"


def test_two_documents_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\n---\nname: other\n")
    assert "YAML syntax error" in error_of(path)


def test_a_nul_byte_is_a_syntax_error_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\ndescription: a\x00b\n")
    assert error_of(path).startswith(f"{path}:2:")


# --- ${...} ------------------------------------------------------------------------------------------------------


def test_an_empty_default_in_a_required_field_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\nservices:\n  - name: api\n    base_url: ${API_URL:-}\n")
    with pytest.raises(RunbookSchemaError) as error:
        load_runbook(path, {})
    assert str(error.value) == (f"{path}:4: services[0].base_url: '${{API_URL:-}}' resolved to an empty value, and"
                                " this field needs one; set the variable or give a default that is not empty")


def test_a_variable_set_to_nothing_in_a_required_field_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\ndatabase:\n  dsn: ${DATABASE_URL}\n")
    assert "database.dsn: '${DATABASE_URL}' resolved to an empty value" in error_of(path, {"DATABASE_URL": ""})


def test_an_empty_value_leaves_an_optional_field_unset(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\nnotifications:\n  webhook_url: ${SLACK_WEBHOOK_URL:-}\n")
    assert load_runbook(path, {}).notifications.webhook_url is None


def test_a_nested_default_is_an_error_not_a_literal(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\nservices:\n  - name: api\n    base_url: ${A:-${B}}\n")
    with pytest.raises(MissingVariable) as error:
        load_runbook(path, {"B": "http://127.0.0.1:9"})
    assert str(error.value) == (f"{path}:4: services[0].base_url has a nested reference in '${{A:-${{B}}}}';"
                                " a default is plain text: write ${A:-some value}")


@pytest.mark.parametrize("value", ["${API_URL", "http://${HOST:?unset}/", "${}", "${1ST}", "${A B}", "x${A:=b}"])
def test_a_malformed_reference_is_an_error(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"name: prod\ndescription: '{value}'\n")
    message = error_of(path, {"API_URL": "x", "HOST": "h", "A": "a"})
    assert message.startswith(f"{path}:2: description "), message
    assert "malformed reference" in message or "not a variable name" in message, message


def test_a_dollar_without_braces_is_text(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\ncommands:\n  cost: echo $HOME costs $5\n")
    assert load_runbook(path, {}).commands["cost"].run == "echo $HOME costs $5"


def test_env_files_that_are_folders_or_not_utf8_are_one_line(tmp_path: Path) -> None:
    (tmp_path / ".env.folder").mkdir()
    path = write(tmp_path, "name: prod\nenv_files: [.env.folder]\n")
    assert error_of(path) == (f"{path}:2: env_files[0]: {tmp_path / '.env.folder'}: the dotenv file is a folder;"
                              " name a file")
    (tmp_path / ".env.latin").write_bytes("API_URL=caf\xe9\n".encode("latin-1"))
    path = write(tmp_path, "name: prod\nenv_files:\n  - .env.latin\n")
    assert error_of(path).startswith(f"{path}:3: env_files[0]: {tmp_path / '.env.latin'}:1: the dotenv file is not"
                                     " UTF-8 text")
    path = write(tmp_path, "name: prod\nenv_files: [.env.missing]\n")
    assert error_of(path).endswith(".env.missing: dotenv file does not exist; create it or remove it from env_files")


# --- versions ---------------------------------------------------------------------------------------------------

GOOD_VERSIONS = ["1.4.0", "1.1.0-errors", "2.0.0rc1", "1.4.0.post1", "1.0.0-alpha.1+build.5", "2024.11", "v1.2",
                 "1!2.0", "0.0.1-x-y"]
BAD_VERSIONS = ["", " 1.0", "1.0 ", "1.0; touch /tmp/x", "1.0\nsigned: yes", "$(id)", "`id`", "1.0&&id", "1.0|id",
                "'1.0'", '"1.0"', "1.0>x", "../1.0", "1.0/x", "latest!", "1.0.0-alpha..1", "x" * 129, "1.0\x00",
                "\u0661.0"]


@pytest.mark.parametrize("version", GOOD_VERSIONS)
def test_good_versions_are_kept_as_written(version: str, tmp_path: Path) -> None:
    assert check_version(version) == version
    path = write(tmp_path, f"name: prod\nrelease: {{version: '{version}', previous_version: '1.0.0'}}\n")
    assert load_runbook(path, {}).version_to == version


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_bad_versions_are_refused_in_the_runbook_and_from_release(version: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("expected a version such as 1.4.0")):
        check_version(version)
    path = write(tmp_path, "name: prod\nrelease:\n  previous_version: " + repr(version).replace("\\", "\\\\") + "\n")
    if "\x00" not in version:  # YAML refuses NUL itself
        assert error_of(path).startswith(f"{path}:3: release.previous_version: "), error_of(path)
    path = write(tmp_path, "name: prod\n")
    assert error_of(path, release=version).startswith(f"{path}:1: release.version: ")


def test_a_version_written_as_a_number_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "name: prod\nrelease: {version: 1.10}\n")
    assert error_of(path).startswith(f"{path}:2: release.version: Input should be a valid string (got 1.1)")


# --- URLs --------------------------------------------------------------------------------------------------------

URL_FIELDS = {
    "services[0].base_url": "services:\n  - name: api\n    base_url: {url}\n",
    "prometheus.url": "prometheus:\n  url: {url}\n",
    "deploy.router.url": "deploy:\n  router:\n    url: {url}\n",
    "notifications.webhook_url": "notifications:\n  webhook_url: {url}\n",
    "load.smoke.host": "load:\n  smoke:\n    host: {url}\n    endpoints: [{{path: /}}]\n"
                       "    stages: [{{duration_s: 1, users: 1}}]\n",
}
BAD_URLS = ["ftp://x", "127.0.0.1:8080", "http://", "'http:// x'", "http://exa mple.com", '"http://a\\nb"',
            '"https://x\\ty"', '"http://x\\r"', "javascript:alert(1)", "'file:///etc/passwd'", "http://x:99999",
            "'[x]'"]


@pytest.mark.parametrize("field", sorted(URL_FIELDS))
@pytest.mark.parametrize("url", BAD_URLS)
def test_every_url_field_is_validated(tmp_path: Path, field: str, url: str) -> None:
    text = URL_FIELDS[field].format(url=url if url[0] in "'\"" else f'"{url}"')
    path = write(tmp_path, "name: prod\n" + text)
    message = error_of(path)
    assert f": {field}: expected an http(s) URL such as " in message, message
    if field == "notifications.webhook_url":
        assert "(not shown)" in message  # a webhook URL is a token


@pytest.mark.parametrize("field", sorted(URL_FIELDS))
def test_every_url_field_takes_an_http_url(tmp_path: Path, field: str) -> None:
    path = write(tmp_path, "name: prod\n" + URL_FIELDS[field].format(url="https://host.example.com:8443/x"))
    load_runbook(path, {})


@pytest.mark.parametrize(("kind", "good", "bad"), [
    ("docker", "unix:///var/run/docker.sock", "/var/run/docker.sock"),
    ("docker", "ssh://deploy@docker.example.com", "ftp://x"),
    ("compose", "tcp://127.0.0.1:2376", "'tcp://a b'"),
    ("kubernetes", "https://k8s.example.com:6443", "unix:///x"),
    ("host", "ssh://deploy@api-1", "api-1"),
    ("host", "local://", "'ssh://'"),
    ("host", "docker://web", "bogus://web"),
])
def test_target_urls_are_validated_by_kind(tmp_path: Path, kind: str, good: str, bad: str) -> None:
    template = "name: prod\ntargets:\n  - name: t\n    kind: {kind}\n    url: {url}\n"
    if kind == "compose":
        template += "    options: {{file: compose.yml}}\n"
    load_runbook(write(tmp_path, template.format(kind=kind, url=good)), {})
    path = write(tmp_path, template.format(kind=kind, url=bad))
    message = error_of(path)
    assert message.startswith(f"{path}:5: targets[0].url: expected the address of a {kind} target such as "), message


# --- environments ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "why"), [
    ("", "the name is empty"),
    ("  ", "the name is empty"),
    ("../../etc/x", "not a path"),
    ("/abs/prod", "not a path"),
    ("runbooks/prod", "not a path"),
    ("..", "not a path"),
    ("prod\\x", "not a path"),
    ("prod.yaml", "no "),
    ("PROD", "no "),
    ("prod\nx", "no "),
])
def test_an_environment_is_a_name_among_the_runbooks(tmp_path: Path, name: str, why: str) -> None:
    write(tmp_path, "name: prod\n")
    write(tmp_path, "name: local\n", "local")
    outside = tmp_path / "abs" / "prod.yaml"
    outside.parent.mkdir()
    outside.write_text("name: outside\n")
    with pytest.raises(UnknownEnvironment) as error:
        runbook_path(tmp_path / "runbooks", name, "--env")
    message = str(error.value)
    assert message.startswith(f"unknown environment {name!r} (from --env): ".replace("\n", "\\n")), message
    assert why in message and message.endswith("; available environments: local, prod"), message
    assert "\n" not in message


# --- names that reach the header, the journal and the sign-off -------------------------------------------------


@pytest.mark.parametrize(("text", "field"), [
    ('name: "prod\\n| Approver | mallory |"\n', "name"),
    ("name: prod\noperator: ' '\n", "operator"),
    ('name: prod\nservices:\n  - {name: "api\\tx", base_url: "http://127.0.0.1:9"}\n', "services[0].name"),
    ("name: prod\ntargets:\n  - {name: '', kind: docker}\n", "targets[0].name"),
    ('name: prod\nnotifications: {channel: "#ops\\r"}\n', "notifications.channel"),
])
def test_names_are_one_printable_line(tmp_path: Path, text: str, field: str) -> None:
    message = error_of(write(tmp_path, text))
    assert f": {field}: expected a name on one line" in message, message


def test_a_variable_in_a_shell_field_is_one_word_whatever_it_holds(tmp_path: Path) -> None:
    import subprocess

    marker = tmp_path / "pwned"
    hostile = f"1.0; touch {marker}; echo $(touch {marker}) `touch {marker}` '\" \n"
    path = write(tmp_path, "name: prod\n" + SERVICE + (
        "targets:\n  - name: web\n    kind: host\n    options:\n      deploy_command: echo deploy ${PREV}\n"
        "rollback:\n  commands:\n    - stage: deploy\n      run: echo back ${PREV}\n"
        "commands:\n  short: echo short ${PREV}\n  long: {run: \"echo long ${PREV}\"}\n"
    ))
    runbook = load_runbook(path, {"PREV": hostile})
    options = runbook.targets[0].options
    lines = [options.deploy_command, runbook.rollback.commands[0].run,
             runbook.commands["short"].run, runbook.commands["long"].run]
    for line in lines:
        done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=10)
        assert done.returncode == 0, done.stderr
        assert done.stdout.rstrip("\n").endswith(hostile.rstrip("\n")), done.stdout
    assert not marker.exists()
    assert runbook.services[0].base_url.startswith("http://127.0.0.1:9")  # other fields are not quoted
