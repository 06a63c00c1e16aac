"""``releasegate init``: scaffold releasegate in a repository.

Writes ``features/release.feature`` (the stages the runbook enables), ``runbooks/<env>.yaml`` for one
target kind, the pytest settings, a ``reports/`` line in ``.gitignore`` and a CI gate job. Every file
is checked before the first one is written: an existing file is refused (unless ``--force``), an
existing pytest configuration without releasegate's settings gets the lines to add printed, and
in both cases nothing is written and the exit code is 4.

The templates are package data (``templates/``), rendered with Jinja2 using ``[[ ]]`` and
``[% %]`` so that GitHub's ``${{ }}`` and runbook ``${VAR}`` stay as written.
"""

from __future__ import annotations

import argparse
import configparser
import json
import re
import sys
import tempfile
import tomllib
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import jinja2

from releasegate.checks.errors import ConfigError
from releasegate.checks.runbook.loader import load_runbook
from releasegate.cli import USAGE_ERROR, Parser

TARGETS = ("docker", "compose", "kubernetes", "host")
CI_FILES = {"github": ".github/workflows/release.yml", "gitlab": ".gitlab/ci/releasegate.yml"}
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# What the scaffolded runbooks' ${VAR}s stand for while init checks them with the loader.
PLACEHOLDERS = {"RELEASE_VERSION": "1.1.0", "PREVIOUS_VERSION": "1.0.0", "DB_PASSWORD": "placeholder",
                "DB_ADMIN_PASSWORD": "placeholder"}
PLACEHOLDER_INSTALL = "releasegate @ git+https://git.example.com/your-org/releasegate.git"


class InitError(Exception):
    """Bad input or a file in the way: one line, exit 4, nothing written."""


@dataclass(frozen=True)
class Settings:
    """The pytest settings releasegate needs, and where they go."""

    values: dict[str, str] = field(default_factory=lambda: {
        "releasegate_runbooks_dir": "runbooks",
        "bdd_features_base_dir": "features",
    })

    def ini_lines(self, section: str) -> str:
        lines = [f"[{section}]", "addopts = --strict-markers", *(f"{k} = {v}" for k, v in self.values.items())]
        return "\n".join(lines) + "\n"

    def toml_lines(self) -> str:
        lines = ["[tool.pytest.ini_options]", 'addopts = ["--strict-markers"]',
                 *(f"{k} = {json.dumps(v)}" for k, v in self.values.items())]
        return "\n".join(lines) + "\n"


def arguments() -> Parser:
    parser = Parser(prog="releasegate init", description="Scaffold releasegate in a repository: a release"
                    " feature, a runbook, the pytest settings, a .gitignore entry and a CI gate job.")
    parser.add_argument("directory", nargs="?", default=".", metavar="DIR",
                        help="the repository to scaffold (default: the current folder)")
    parser.add_argument("--target", choices=TARGETS, default="docker", help="where the service runs (default docker)")
    parser.add_argument("--env", default="staging", metavar="NAME",
                        help="environment name: writes runbooks/NAME.yaml (default staging)")
    parser.add_argument("--service", default="app", metavar="NAME", help="the service's name (default app)")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000", metavar="URL",
                        help="where the service answers (default http://127.0.0.1:8000)")
    parser.add_argument("--database", action="store_true",
                        help="the service has a PostgreSQL database: backup, migration and data checks")
    parser.add_argument("--ci", choices=(*CI_FILES, "none"), default="github",
                        help="CI gate job to write (default github)")
    parser.add_argument("--install", default=None, metavar="SPEC",
                        help="how CI installs releasegate (pip requirement; default: where this copy came from)")
    parser.add_argument("--force", action="store_true", help="overwrite files that exist")
    return parser


def _name(option: str, value: str) -> str:
    if not NAME.fullmatch(value):
        raise InitError(f"{option} {value!r}: expected a name of lowercase letters, digits, '-' and '_'"
                        " (it becomes a file name and a CI variable)")
    return value


def _port(url: str) -> int:
    try:
        parsed = urllib.parse.urlsplit(url)
        return parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        raise InitError(f"--base-url {url!r}: expected an http(s) URL such as http://127.0.0.1:8000") from None


def install_spec(given: str | None) -> tuple[str, bool]:
    """The pip requirement CI installs releasegate with, and whether it is a placeholder to edit."""
    if given:
        if "\n" in given or not given.strip():
            raise InitError("--install: expected one pip requirement such as 'releasegate @ git+https://...'")
        return given.strip(), False
    try:
        text = distribution("releasegate").read_text("direct_url.json")
    except PackageNotFoundError:
        text = None
    origin = json.loads(text) if text else {}
    vcs = origin.get("vcs_info") or {}
    url = str(origin.get("url", ""))
    if vcs.get("vcs") == "git" and url and not url.startswith("file:"):
        commit = vcs.get("commit_id")
        return f"releasegate @ git+{url}" + (f"@{commit}" if commit else ""), False
    return PLACEHOLDER_INSTALL, True


def environment() -> jinja2.Environment:
    return jinja2.Environment(  # nosec B701: YAML, Gherkin and CI files, not HTML
        loader=jinja2.PackageLoader("releasegate.cli", "templates"),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
        variable_start_string="[[", variable_end_string="]]", block_start_string="[%", block_end_string="%]",
        comment_start_string="[#", comment_end_string="#]", autoescape=False,
    )


def render(template: str, **values: object) -> str:
    return environment().get_template(template).render(**values)


def check_runbook(text: str, env: str) -> None:
    """The scaffolded runbook loads with releasegate's own loader (its variables given placeholders)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "runbooks" / f"{env}.yaml"
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
        try:
            load_runbook(path, PLACEHOLDERS)
        except ConfigError as exc:
            message = str(exc).replace(str(path), f"runbooks/{env}.yaml")
            raise InitError(f"the runbook these options make is not valid: {message}") from None


def pytest_config(root: Path) -> tuple[Path, str, dict[str, str]] | None:
    """The file pytest would read its settings from in ``root`` (pytest's order), its section, its keys."""
    for name in ("pytest.toml", ".pytest.toml"):
        if (root / name).is_file():
            return root / name, "[pytest]", _table(_toml(root / name), "pytest")
    for name in ("pytest.ini", ".pytest.ini"):
        if (root / name).is_file():
            return root / name, "[pytest]", _ini_section(root / name, "pytest") or {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        tool = _toml(pyproject).get("tool")
        pytest_table = tool.get("pytest") if isinstance(tool, dict) else None
        if isinstance(pytest_table, dict):
            if isinstance(pytest_table.get("ini_options"), dict):
                return pyproject, "[tool.pytest.ini_options]", _table(pytest_table, "ini_options")
            return pyproject, "[tool.pytest]", {str(k): str(v) for k, v in pytest_table.items()}
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        found = _ini_section(root / name, section) if (root / name).is_file() else None
        if found is not None:
            return root / name, f"[{section}]", found
    return None


def _table(document: dict[str, object], key: str) -> dict[str, str]:
    table = document.get(key)
    return {str(k): str(v) for k, v in table.items()} if isinstance(table, dict) else {}


def _toml(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InitError(f"{path}: cannot read it as TOML ({exc}); fix it first") from None


def _ini_section(path: Path, section: str) -> dict[str, str] | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise InitError(f"{path}: cannot read it as an ini file ({str(exc).splitlines()[0]}); fix it first") from None
    return dict(parser[section]) if parser.has_section(section) else None


@dataclass
class Plan:
    """What init writes: whole files, and text appended to existing files."""

    root: Path
    files: dict[Path, str] = field(default_factory=dict)
    appends: dict[Path, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def write(self) -> list[str]:
        done = []
        for path, text in self.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            done.append(f"wrote {self._show(path)}")
        for path, text in self.appends.items():
            with path.open("a", encoding="utf-8") as handle:
                handle.write(text)
            done.append(f"added to {self._show(path)}: {text.strip().splitlines()[0]}")
        return done

    def _show(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def plan(options: argparse.Namespace) -> Plan:
    root = Path(options.directory)
    if not root.is_dir():
        raise InitError(f"{root}: no such folder; create it first (or run releasegate init inside your repository)")
    env = _name("--env", options.env)
    service = _name("--service", options.service)
    install, placeholder = install_spec(options.install)
    values = {"env": env, "service": service, "base_url": options.base_url, "port": _port(options.base_url),
              "target": options.target, "database": options.database, "install": install}
    result = Plan(root)
    runbook = render(f"runbooks/{options.target}.yaml", **values)
    check_runbook(runbook, env)
    result.files[root / "features" / "release.feature"] = render("release.feature", **values)
    result.files[root / "runbooks" / f"{env}.yaml"] = runbook
    if options.ci != "none":
        result.files[root / CI_FILES[options.ci]] = render(f"ci/{options.ci}.yml", **values)
        if placeholder:
            result.notes.append(f"edit the releasegate install line of {CI_FILES[options.ci]}: {install!r} is a"
                                " placeholder (or rerun with --install SPEC)")
        if options.ci == "gitlab":
            result.notes.append(f"add to .gitlab-ci.yml: include: {{local: {CI_FILES['gitlab']}}}")
    for path in result.files:
        if path.exists() and not options.force:
            raise InitError(f"{result._show(path)} exists; pass --force to overwrite it")
    _settings(result)
    _gitignore(result)
    return result


def _settings(result: Plan) -> None:
    settings = Settings()
    found = pytest_config(result.root)
    if found is None:
        pyproject = result.root / "pyproject.toml"
        if pyproject.is_file():
            text = pyproject.read_text(encoding="utf-8")
            addition = ("\n" if text and not text.endswith("\n") else "") + "\n" + settings.toml_lines()
            tomllib.loads(text + addition)  # appending a new table keeps the file valid TOML
            result.appends[pyproject] = addition
        else:
            result.files[result.root / "pytest.ini"] = settings.ini_lines("pytest")
        return
    path, section, keys = found
    missing = {k: v for k, v in settings.values.items() if k not in keys}
    if not missing:
        return
    if path.suffix == ".toml":
        lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in missing.items())
    else:
        lines = "\n".join(f"{k} = {v}" for k, v in missing.items())
    raise InitError(f"{result._show(path)} holds the pytest settings: add to its {section} section\n{lines}\n"
                    "then run releasegate init again (nothing was written)")


def _gitignore(result: Plan) -> None:
    path = result.root / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if any(line.strip() in {"reports", "reports/", "/reports", "/reports/"} for line in text.splitlines()):
        return
    addition = ("\n" if text and not text.endswith("\n") else "") + "# releasegate's run records\nreports/\n"
    if path.is_file():
        result.appends[path] = addition
    else:
        result.files[path] = addition


def main(argv: Sequence[str] | None = None) -> int:
    options = arguments().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        scaffold = plan(options)
    except InitError as exc:
        print(f"releasegate init: {exc}", file=sys.stderr)
        return USAGE_ERROR
    for line in scaffold.write():
        print(line)
    for note in scaffold.notes:
        print(f"to do: {note}")
    print(f"next: pytest features/release.feature --env {options.env} --dry-run")
    return 0
