"""Adoption: releasegate installed from a wheel into a fresh environment, used by a project of its own.

The project has its own ``steps/`` and ``checks/`` packages (the names releasegate's own modules
would shadow, or be shadowed by, were they installed at the top level). ``releasegate init`` scaffolds
it, the user trims the feature to a preflight-only release against a local HTTP server and adds a
step of their own, and ``pytest features/release.feature --env staging`` runs releasegate's steps and
theirs, prints the decision and exits with its code.

The fresh environment reuses this environment's third-party packages through a ``.pth`` line (the
tests need no network) but not its editable releasegate: a path listed in a ``.pth`` file is added
to sys.path without running that folder's own ``.pth`` files, so setuptools' editable finder never
loads, and the releasegate that imports is the wheel's.

The CI templates' shell lines (``run:`` steps of the GitHub jobs, ``before_script``/``script`` of the
GitLab jobs) run in order in that environment on the same kind of repository: ``actions/*`` steps
are GitHub's own and stand replaced by the environment, ``${{ }}`` expressions by this run's values,
the approvals API by a ``gh`` that answers as GitHub would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

CONFIRM = "Change approved and the deployment window announced=alice"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this checkout, built from a copy (a build in place would leave build/ and egg-info here)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "releasegate", source / "releasegate",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "--disable-pip-version-check", "-q", "-w", str(out), str(source)],
                           capture_output=True, text=True, timeout=180)
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("releasegate-*.whl")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "RELEASEGATE_ENV"}
           and not k.startswith("PYTEST_DISABLE")}
    return env | extra


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh virtual environment with the wheel installed; its python."""
    folder = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=60)
    python = folder / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "_outer_packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--ignore-installed",
                                "--disable-pip-version-check", "-q", str(wheel)],
                               capture_output=True, text=True, timeout=180, env=clean_env())
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return python


class Shop(BaseHTTPRequestHandler):
    """The user's service, version 1.0.0: health, version and its own API."""

    ANSWERS = {"/health": {"status": "ok"}, "/version": {"version": "1.0.0"},
               "/api/items": {"items": ["tea", "cake", "scones"]}}

    def do_GET(self) -> None:
        answer = self.ANSWERS.get(self.path)
        body = json.dumps(answer if answer is not None else {"error": "not found"}).encode()
        self.send_response(200 if answer is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def shop_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def user_project(folder: Path) -> Path:
    """A repository with its own steps/ and checks/ packages, the names a pytest-bdd project uses."""
    (folder / "checks").mkdir(parents=True)
    (folder / "checks" / "__init__.py").write_text("")
    (folder / "checks" / "inventory.py").write_text(textwrap.dedent("""
        import json
        import urllib.request


        def items(base_url: str) -> list[str]:
            with urllib.request.urlopen(base_url + "/api/items", timeout=5) as answer:
                return list(json.load(answer)["items"])
    """))
    (folder / "steps").mkdir()
    (folder / "steps" / "__init__.py").write_text("")
    (folder / "steps" / "shop.py").write_text(textwrap.dedent("""
        from pytest_bdd import parsers, then

        from checks.inventory import items


        @then(parsers.parse("the shop lists at least {count:d} items"))
        def shop_lists_items(count, runbook):
            found = items(runbook.services[0].base_url)
            assert len(found) >= count, found
    """))
    (folder / "conftest.py").write_text('pytest_plugins = ["steps.shop"]\n')
    (folder / "pyproject.toml").write_text('[project]\nname = "shop"\nversion = "1.0.0"\n')
    return folder


def preflight_only(feature: str) -> str:
    """What a user does first: the preflight stage of the scaffold, without Docker, plus a check of their own."""
    head = feature.split("  # --- Deployment", 1)[0]
    scenarios = head.split("\n  @")
    kept = [part for part in scenarios if "Docker" not in part]
    return "\n  @".join(kept).rstrip() + textwrap.dedent("""

      @preflight @critical
      Scenario: The shop's own inventory answers
        Then the shop lists at least 2 items
    """).replace("\n", "\n  ").rstrip() + "\n"


def run(python: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env=clean_env(**env))


def test_the_wheel_is_what_imports_in_the_fresh_environment(venv: Path, tmp_path: Path) -> None:
    shown = run(venv, "-c", "import releasegate, releasegate.plugins; from importlib.metadata import entry_points;"
                " print(releasegate.__file__); print(sorted(e.value for e in entry_points(group='pytest11')"
                " if e.dist.name == 'releasegate'))", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    where, entry_points = shown.stdout.splitlines()
    assert Path(where).is_relative_to(venv.parent.parent), where
    assert entry_points == "['releasegate.plugins']"
    version = subprocess.run([str(venv.parent / "releasegate"), "--version"], capture_output=True, text=True,
                             cwd=tmp_path, env=clean_env(), timeout=60)
    assert (version.returncode, version.stdout.strip()) == (0, "releasegate 0.1.0")


def test_a_project_of_its_own_runs_a_preflight_release(venv: Path, tmp_path: Path, shop_url: str) -> None:
    project = user_project(tmp_path / "shop")
    releasegate = venv.parent / "releasegate"
    init = subprocess.run([str(releasegate), "init", "--target", "docker", "--ci", "github", "--base-url", shop_url,
                           "--install", "releasegate @ git+https://example.com/releasegate.git"],
                          cwd=project, capture_output=True, text=True, env=clean_env(), timeout=60)
    assert init.returncode == 0, init.stdout + init.stderr
    assert "added to pyproject.toml: [tool.pytest.ini_options]" in init.stdout
    feature = project / "features" / "release.feature"
    feature.write_text(preflight_only(feature.read_text()))

    result = run(venv, "-m", "pytest", "features/release.feature", "--env", "staging", "--release", "1.1.0",
                 "--confirm", CONFIRM, "-p", "no:cacheprovider", "-rA", cwd=project, PREVIOUS_VERSION="1.0.0")
    out = result.stdout + result.stderr
    assert "PASSED features/release.feature::test_the_shop_s_own_inventory_answers" in out, out
    assert "PASSED features/release.feature::test_the_previous_version_is_serving_and_healthy" in out, out
    assert "decision: PASSED (no deploy)" in out, out
    assert result.returncode == 12, out  # the README's exit code for a checklist without a deploy
    assert (project / "reports" / "signoff.md").read_text().count("PASSED (no deploy)") >= 1
    assert (project / "reports" / "junit.xml").is_file()
    assert not (ROOT / "build").exists()  # built from a copy (the editable install's egg-info may be here)

    # --strict-markers (init's addopts) holds: the release tags are registered by the plugin, a typo is not
    (project / "tests").mkdir()
    (project / "tests" / "test_unit.py").write_text("import pytest\n\n\n@pytest.mark.critical\ndef test_x():\n"
                                                    "    pass\n")
    unit = run(venv, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", cwd=project)
    assert unit.returncode == 0 and "1 passed" in unit.stdout, unit.stdout + unit.stderr
    feature.write_text(feature.read_text().replace("@preflight @critical", "@preflight @critcal", 1))
    typo = run(venv, "-m", "pytest", "features/release.feature", "--env", "staging", "--collect-only", "-q",
               "-p", "no:cacheprovider", cwd=project, PREVIOUS_VERSION="1.0.0")
    assert typo.returncode == 2 and "critcal" in typo.stdout, typo.stdout + typo.stderr


def test_this_checkout_with_the_entry_point_installed_registers_the_plugin_once(venv: Path) -> None:
    collected = run(venv, "-m", "pytest", "features/release.feature", "--env", "local", "--collect-only", "-q",
                    "-p", "no:cacheprovider", cwd=ROOT)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert "18 tests collected" in collected.stdout
    # pytester projects of the suite (a conftest listing the plugin too), and bad options refused before
    # allure-pytest-bdd, loaded after releasegate here, makes its results folder
    plugins = run(venv, "-m", "pytest", "tests/plugins/test_plugin_list.py", "tests/plugins/test_environment_option.py",
                  "-k", "list or approve or signoff", "-q", "-x", "-p", "no:cacheprovider", cwd=ROOT,
                  PYTEST_XDIST_WORKER=os.environ.get("PYTEST_XDIST_WORKER", "gw0"))
    assert plugins.returncode == 0, plugins.stdout[-3000:] + plugins.stderr[-3000:]
    assert " passed" in plugins.stdout and " deselected" in plugins.stdout


# --- the CI templates' shell lines, run in order on the sample repository -------------------------

EXPRESSIONS = {"inputs.environment": "staging", "inputs.version": "1.1.0", "github.token": "token",
               "github.run_id": "1", "vars.PREVIOUS_VERSION": "1.0.0", "secrets.DB_PASSWORD": "",
               "secrets.DB_ADMIN_PASSWORD": ""}


def github_value(text: str) -> str:
    """A workflow value with its ``${{ }}`` expressions replaced as the runner would, for this run."""
    return re.sub(r"\$\{\{\s*([^}]+?)\s*\}\}", lambda m: EXPRESSIONS[m.group(1)], text)


def sample_repository(venv: Path, tmp_path: Path, shop_url: str, wheel: Path, ci: str) -> Path:
    project = user_project(tmp_path / "shop")
    init = subprocess.run([str(venv.parent / "releasegate"), "init", "--ci", ci, "--base-url", shop_url,
                           "--install", str(wheel)], cwd=project, capture_output=True, text=True,
                          env=clean_env(), timeout=60)
    assert init.returncode == 0, init.stdout + init.stderr
    feature = project / "features" / "release.feature"
    feature.write_text(preflight_only(feature.read_text()).replace(
        "  @preflight @manual\n  Scenario: Change approved and the deployment window announced\n"
        "    Then a person has confirmed this item\n\n", ""))
    return project


def ci_env(venv: Path, tmp_path: Path, **values: str) -> dict[str, str]:
    tools = tmp_path / "ci-tools"
    tools.mkdir(exist_ok=True)
    gh = tools / "gh"  # the approvals API of the run, answered as GitHub would after --jq
    gh.write_text("#!/bin/sh\necho alice\n")
    gh.chmod(0o755)
    return clean_env(PATH=os.pathsep.join([str(tools), str(venv.parent), os.environ["PATH"]]), **values)


def run_lines(script: str, cwd: Path, env: dict[str, str], shell: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*shell, script], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


def test_the_github_jobs_shell_lines_run_the_gate(venv: Path, wheel: Path, tmp_path: Path, shop_url: str) -> None:
    project = sample_repository(venv, tmp_path, shop_url, wheel, "github")
    workflow = yaml_load(project / ".github" / "workflows" / "release.yml")
    outputs, summary, github_env = (tmp_path / name for name in ("output", "summary", "env"))
    base = ci_env(venv, tmp_path, GITHUB_OUTPUT=str(outputs), GITHUB_STEP_SUMMARY=str(summary),
                  GITHUB_ENV=str(github_env), GITHUB_REPOSITORY="shop/shop", GITHUB_RUN_ID="1",
                  **{k: github_value(str(v)) for k, v in workflow["env"].items()})
    codes: dict[str, list[tuple[str, int]]] = {}
    for name in ("dry-run", "release-gate"):
        job = workflow["jobs"][name]
        env = base | {k: github_value(str(v)) for k, v in job.get("env", {}).items()}
        for step in job["steps"]:
            if "run" not in step or step.get("if") not in (None, "always()"):
                continue  # actions (checkout, setup-python, uploads) are GitHub's; the venv stands in
            step_env = env | {k: github_value(str(v)) for k, v in step.get("env", {}).items()}
            if github_env.exists():  # what earlier steps exported
                step_env |= dict(line.split("=", 1) for line in github_env.read_text().splitlines() if line)
            done = run_lines(github_value(step["run"]), project, step_env,
                             ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"])
            codes.setdefault(name, []).append((step.get("name", step["run"][:30]), done.returncode))
            if done.returncode:
                break
    assert all(code == 0 for _, code in codes["dry-run"]), codes
    assert codes["release-gate"][-1] == ("Release gate", 12), codes  # PASSED (no deploy): not a release
    assert all(code == 0 for _, code in codes["release-gate"][:-1]), codes
    assert "exit_code=12" in outputs.read_text()
    assert "PASSED (no deploy)" in summary.read_text()
    assert "| Approver | alice (RELEASEGATE_APPROVED_BY) |" in summary.read_text()  # the environment's reviewer
    assert (project / "reports" / "junit.xml").is_file() and (project / "reports" / "signoff.md").is_file()


def test_the_gitlab_jobs_shell_lines_run_the_gate_and_leave_a_finished_gate_alone(
        venv: Path, wheel: Path, tmp_path: Path, shop_url: str) -> None:
    project = sample_repository(venv, tmp_path, shop_url, wheel, "gitlab")
    pipeline = yaml_load(project / ".gitlab" / "ci" / "releasegate.yml")
    base = ci_env(venv, tmp_path, CI_COMMIT_TAG="1.1.0", GITLAB_USER_LOGIN="alice", PREVIOUS_VERSION="1.0.0")
    variables = {k: os.path.expandvars(str(v)) if "$" in str(v) else str(v)
                 for k, v in pipeline["variables"].items()}
    variables["RELEASE_VERSION"] = base["CI_COMMIT_TAG"]

    def job(name: str) -> int:
        spec = pipeline[name]
        env = base | variables | {k: v.replace("$GITLAB_USER_LOGIN", base["GITLAB_USER_LOGIN"])
                                  for k, v in spec.get("variables", {}).items()}
        for line in [*pipeline[".releasegate"]["before_script"], *spec["script"]]:
            done = run_lines(line, project, env, ["bash", "-e", "-c"])
            if done.returncode:
                return done.returncode
        return 0

    assert job("releasegate-plan") == 0
    assert job("releasegate-gate") == 12
    assert (project / "reports" / "gate-exit-code").read_text().strip() == "12"
    assert (project / "reports" / "junit.xml").is_file()
    assert "| Approver | alice (RELEASEGATE_APPROVED_BY) |" in (project / "reports" / "signoff.md").read_text()
    assert job("releasegate-rollback-only") == 0  # the gate finished: nothing to recover, nothing run


def yaml_load(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict)
    return loaded
