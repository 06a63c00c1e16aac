"""releasegate (the command) and releasegate init: what it writes, what it refuses, and that it runs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from releasegate import cli
from releasegate.checks.runbook.loader import load_runbook
from releasegate.cli import init

VARIABLES = {"PREVIOUS_VERSION": "1.0.0", "DB_PASSWORD": "app-secret", "DB_ADMIN_PASSWORD": "owner-secret"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"releasegate {cli.installed_version()}"
    assert cli.installed_version()[0].isdigit()


def test_help_lists_the_commands_and_init_help_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "init" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        cli.main(["init", "--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0 and "--target {docker,compose,kubernetes,host}" in out and "--force" in out


def test_an_unknown_command_or_option_is_one_line_and_exit_4(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["deploy"])
    err = capsys.readouterr().err
    assert exited.value.code == 4 and "invalid choice: 'deploy'" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exited:
        cli.main(["init", "--target", "nomad"])
    err = capsys.readouterr().err
    assert exited.value.code == 4 and "invalid choice: 'nomad'" in err and len(err.strip().splitlines()) == 1


def test_a_command_whose_module_is_not_installed_says_so(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(cli.COMMANDS, "judge", ("releasegate.cli.no_such_module:main", "judge"))
    assert run(capsys, "judge", "x") == (4, "", "releasegate: judge is not available in this installation\n")


def test_no_command_prints_the_help_and_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 4 and "init" in err


@pytest.mark.parametrize("database", [False, True], ids=["no-database", "database"])
@pytest.mark.parametrize("target", init.TARGETS)
def test_the_runbook_of_every_target_kind_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                target: str, database: bool) -> None:
    argv = ["init", str(tmp_path), "--target", target, "--env", "prod", "--service", "shop"]
    code, out, _ = run(capsys, *argv, *(["--database"] if database else []))
    assert code == 0, out
    runbook = load_runbook(tmp_path / "runbooks" / "prod.yaml", VARIABLES, release="1.1.0")
    assert (runbook.name, runbook.targets[0].kind, runbook.deploy.target) == ("prod", target, runbook.targets[0].name)
    assert [s.name for s in runbook.services] == ["shop"]
    assert (runbook.version_from, runbook.version_to) == ("1.0.0", "1.1.0")
    assert (runbook.database is not None) == database
    feature = (tmp_path / "features" / "release.feature").read_text()
    for tag in ("@preflight", "@deploy", "@smoke", "@post-rollback"):
        assert tag in feature
    assert ("@backup" in feature and "@migrate" in feature) == database
    assert '"shop" serves the previous version' in feature and '"app"' not in feature


def test_a_fresh_folder_gets_pytest_ini_gitignore_and_the_github_job(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "init", str(tmp_path), "--install", "releasegate @ git+https://example.com/rg.git")
    assert code == 0
    written = files(tmp_path)
    assert set(written) == {"features/release.feature", "runbooks/staging.yaml", "pytest.ini", ".gitignore",
                            ".github/workflows/release.yml"}
    assert written["pytest.ini"].splitlines() == ["[pytest]", "addopts = --strict-markers",
                                                  "releasegate_runbooks_dir = runbooks",
                                                  "bdd_features_base_dir = features"]
    assert "reports/" in written[".gitignore"].splitlines()
    assert 'RELEASEGATE: "releasegate @ git+https://example.com/rg.git"' in written[".github/workflows/release.yml"]
    assert "next: pytest features/release.feature --env staging --dry-run" in out


def test_without_install_the_ci_line_is_a_placeholder_and_init_says_so(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "init", str(tmp_path), "--ci", "gitlab")
    workflow = (tmp_path / ".gitlab" / "ci" / "releasegate.yml").read_text()
    spec, placeholder = init.install_spec(None)
    assert code == 0 and f"RELEASEGATE: \"{spec}\"" in workflow
    assert ("is a placeholder" in out) == placeholder
    assert "include: {local: .gitlab/ci/releasegate.yml}" in out


def test_an_existing_file_is_refused_and_nothing_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "staging.yaml").write_text("mine\n")
    (tmp_path / ".gitignore").write_text("*.pyc")
    before = files(tmp_path)
    code, out, err = run(capsys, "init", str(tmp_path))
    assert (code, out) == (4, "")
    assert err == "releasegate init: runbooks/staging.yaml exists; pass --force to overwrite it\n"
    assert files(tmp_path) == before
    code, _, _ = run(capsys, "init", str(tmp_path), "--force")
    after = files(tmp_path)
    assert code == 0 and after["runbooks/staging.yaml"].startswith("# The staging environment")
    assert after[".gitignore"] == "*.pyc\n# releasegate's run records\nreports/\n"


def test_a_second_init_adds_no_second_gitignore_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "init", str(tmp_path), "--ci", "none")[0] == 0
    assert run(capsys, "init", str(tmp_path), "--ci", "none", "--force")[0] == 0
    assert (tmp_path / ".gitignore").read_text().splitlines().count("reports/") == 1


def test_a_pyproject_without_pytest_settings_gets_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "shop"\n\n[tool.ruff]\nline-length = 100')
    assert run(capsys, "init", str(tmp_path), "--ci", "none")[0] == 0
    settings = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    assert settings["project"]["name"] == "shop" and settings["tool"]["ruff"] == {"line-length": 100}
    assert settings["tool"]["pytest"]["ini_options"] == {
        "addopts": ["--strict-markers"], "releasegate_runbooks_dir": "runbooks", "bdd_features_base_dir": "features"}
    assert not (tmp_path / "pytest.ini").exists()


@pytest.mark.parametrize(("name", "text", "section", "lines"), [
    ("pyproject.toml", '[tool.pytest.ini_options]\naddopts = "-q"\n', "[tool.pytest.ini_options]",
     ['releasegate_runbooks_dir = "runbooks"', 'bdd_features_base_dir = "features"']),
    ("tox.ini", "[tox]\nenvlist = py\n\n[pytest]\naddopts = -q\n", "[pytest]",
     ["releasegate_runbooks_dir = runbooks", "bdd_features_base_dir = features"]),
    ("setup.cfg", "[tool:pytest]\nbdd_features_base_dir = checklists\n", "[tool:pytest]",
     ["releasegate_runbooks_dir = runbooks"]),
    ("pytest.ini", "[pytest]\n", "[pytest]",
     ["releasegate_runbooks_dir = runbooks", "bdd_features_base_dir = features"]),
])
def test_existing_pytest_settings_get_the_lines_to_add_printed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, section: str,
        lines: list[str]) -> None:
    (tmp_path / name).write_text(text)
    code, out, err = run(capsys, "init", str(tmp_path))
    assert (code, out) == (4, "")
    assert err.splitlines() == [f"releasegate init: {name} holds the pytest settings: add to its {section} section",
                                *lines, "then run releasegate init again (nothing was written)"]
    assert files(tmp_path) == {name: text}
    (tmp_path / name).write_text(text + "\n".join(lines) + "\n")
    assert run(capsys, "init", str(tmp_path))[0] == 0
    assert (tmp_path / name).read_text() == text + "\n".join(lines) + "\n"


@pytest.mark.parametrize(("argv", "message"), [
    (["--env", "../prod"], "--env '../prod': expected a name of lowercase letters"),
    (["--service", 'a" b'], "--service 'a\" b': expected a name"),
    (["--base-url", "ftp://x"], "services[0].base_url: expected an http(s) URL such as http://127.0.0.1:8080,"
                                " got 'ftp://x'"),
    (["--base-url", "http://x:99999"], "--base-url 'http://x:99999': expected an http(s) URL"),
    (["--install", "a\nb"], "--install: expected one pip requirement"),
])
def test_bad_options_are_one_line_and_nothing_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         argv: list[str], message: str) -> None:
    code, out, err = run(capsys, "init", str(tmp_path), *argv)
    assert (code, out) == (4, "")
    assert err.startswith("releasegate init: ") and message in err and len(err.splitlines()) == 1
    assert files(tmp_path) == {}


def test_a_missing_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "init", str(tmp_path / "nope"))
    assert code == 4 and err == f"releasegate init: {tmp_path / 'nope'}: no such folder; create it first" \
                                " (or run releasegate init inside your repository)\n"


@pytest.mark.parametrize("target", init.TARGETS)
def test_the_scaffold_collects_and_plans_with_releasegates_steps(pytester: pytest.Pytester,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 target: str) -> None:
    assert cli.main(["init", str(pytester.path), "--target", target, "--database", "--ci", "none"]) == 0
    capsys.readouterr()
    pytester.makeconftest('pytest_plugins = ["releasegate.plugins"]')  # this checkout's plugin, as installed
    for name, value in VARIABLES.items():
        monkeypatch.setenv(name, value)
    result = pytester.runpytest("features/release.feature", "--env", "staging", "--collect-only", "-q",
                                "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*11 tests collected*" if target != "host" else "*10 tests collected*"])
