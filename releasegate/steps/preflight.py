"""Preflight steps: environment variables, tools, host resources, network, files, PostgreSQL.

Every phrase may end with " within N seconds" (retried until it passes or time runs out).
Environment variables are read from the process environment over the runbook's env_files,
unless a scenario says "the environment variables are read from the dotenv file ...".
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytest_bdd import given, parsers, step

from releasegate.checks.database import server as postgres
from releasegate.checks.database.stage import no_database_section
from releasegate.checks.deploy.targets import host as host_target
from releasegate.checks.preflight import envvars, files, host, net, tools
from releasegate.checks.preflight.envvars import Variables
from releasegate.checks.result import CheckResult, combine
from releasegate.checks.runbook.model import Runbook
from releasegate.plugins.dryrun import read_only
from releasegate.plugins.environment import RUNBOOK_KEY
from releasegate.plugins.evidence import Evidence
from releasegate.steps._phrases import project_path, run, run_on, split_list, unknown_name, within_phrase

ENV = 'the environment variable "{name}"'


@pytest.fixture
def env_variables(request: pytest.FixtureRequest) -> Variables:
    """The variables environment steps read: the process environment over the runbook's env_files."""
    runbook = request.config.stash.get(RUNBOOK_KEY, None)
    env_files = [project_path(runbook, f) for f in runbook.env_files] if runbook is not None else []
    existing = [f for f in env_files if f.is_file()]
    return envvars.from_process(env_files=existing, secret_names=runbook.secrets if runbook is not None else ())


@given(parsers.parse('the environment variables are read from the dotenv file "{path}"'),
       target_fixture="env_variables")
@read_only
def read_from_dotenv(path: str, request: pytest.FixtureRequest, evidence: Evidence) -> Variables:
    """Later environment steps of the scenario read this dotenv file instead of the process environment."""
    runbook = request.config.stash.get(RUNBOOK_KEY, None)
    file = project_path(runbook, path)
    evidence.require(files.check_file(file, "dotenv"))
    return envvars.from_dotenv(file, runbook.secrets if runbook is not None else ())


def _env(check: Callable[[], CheckResult], within: float | None, evidence: Evidence) -> None:
    evidence.require(run(check, within))


# --- environment variables ----------------------------------------------------------------------


@step(within_phrase(ENV + " is set"))
@step(within_phrase(ENV + " is set and not a placeholder"))
@read_only
def variable_is_set(name: str, env_variables: Variables, evidence: Evidence, within: float | None = None) -> None:
    """Set, not empty and not a placeholder (your_api_key, changeme, <...>, sk-ant-... stubs); secrets masked."""
    _env(lambda: envvars.check_set(env_variables, name), within, evidence)


@step(within_phrase('the environment variables "{names}" are set'))
@step(within_phrase('the environment variables "{names}" are set and not placeholders'))
@read_only
def variables_are_set(names: str, env_variables: Variables, evidence: Evidence, within: float | None = None) -> None:
    """Each variable of a comma-separated list is set, not empty and not a placeholder."""
    _env(lambda: envvars.check_all_set(env_variables, split_list(names)), within, evidence)


@step(within_phrase('at least one of "{names}" is set'))
@read_only
def one_of_group_is_set(names: str, env_variables: Variables, evidence: Evidence, within: float | None = None) -> None:
    """At least one variable of the group is set to a real value (e.g. one AI provider key)."""
    _env(lambda: envvars.check_any_set(env_variables, split_list(names)), within, evidence)


@step(within_phrase(ENV + " is a URL"))
@read_only
def variable_is_url(name: str, env_variables: Variables, evidence: Evidence, within: float | None = None) -> None:
    """An http(s) URL with a host name."""
    _env(lambda: envvars.check_url(env_variables, name), within, evidence)


@step(within_phrase(ENV + " is a list of URLs"))
@read_only
def variable_is_url_list(name: str, env_variables: Variables, evidence: Evidence, within: float | None = None) -> None:
    """A comma-separated list of http(s) URLs (such as CORS_ORIGINS)."""
    _env(lambda: envvars.check_url_list(env_variables, name), within, evidence)


@step(within_phrase(ENV + " is a PostgreSQL DSN"))
@read_only
def variable_is_dsn(name: str, env_variables: Variables, evidence: Evidence, within: float | None = None) -> None:
    """postgresql://[user[:password]@]host[:port]/database; the password is never shown."""
    _env(lambda: envvars.check_dsn(env_variables, name), within, evidence)


@step(within_phrase(ENV + " is an integer"))
@step(within_phrase(ENV + " is an integer between {minimum:d} and {maximum:d}"))
@read_only
def variable_is_integer(
    name: str,
    env_variables: Variables,
    evidence: Evidence,
    minimum: int | None = None,
    maximum: int | None = None,
    within: float | None = None,
) -> None:
    """An integer, within the given bounds (inclusive) when there are any."""
    _env(lambda: envvars.check_integer(env_variables, name, minimum, maximum), within, evidence)


@step(within_phrase(ENV + ' is one of "{choices}"'))
@step(within_phrase('"{name}" is one of "{choices}"'))
@read_only
def variable_is_one_of(
    name: str, choices: str, env_variables: Variables, evidence: Evidence, within: float | None = None
) -> None:
    """One of a comma-separated set of words, ignoring case (LOG_LEVEL)."""
    _env(lambda: envvars.check_one_of(env_variables, name, split_list(choices)), within, evidence)


@step(within_phrase(ENV + " is true"))
@step(within_phrase('"{name}" is true'))
@read_only
def variable_is_true(name: str, env_variables: Variables, evidence: Evidence, within: float | None = None) -> None:
    """A boolean flag set to true (true/1/yes/on)."""
    _env(lambda: envvars.check_bool(env_variables, name, True), within, evidence)


@step(within_phrase(ENV + " is false"))
@step(within_phrase('"{name}" is false'))
@read_only
def variable_is_false(name: str, env_variables: Variables, evidence: Evidence, within: float | None = None) -> None:
    """A boolean flag set to false (false/0/no/off); not set is a failure (DEBUG_MODE in production)."""
    _env(lambda: envvars.check_bool(env_variables, name, False), within, evidence)


@step(within_phrase(ENV + " is false or not set"))
@step(within_phrase('"{name}" is false or not set'))
@read_only
def variable_is_false_or_unset(
    name: str, env_variables: Variables, evidence: Evidence, within: float | None = None
) -> None:
    """A boolean flag that is false, or absent (its default being off)."""
    _env(lambda: envvars.check_bool(env_variables, name, False, unset_ok=True), within, evidence)


@step(within_phrase('"{lower}" is at most "{upper}"'))
@read_only
def variable_at_most(
    lower: str, upper: str, env_variables: Variables, evidence: Evidence, within: float | None = None
) -> None:
    """Two integer variables in order (DB_POOL_MIN_SIZE is at most DB_POOL_MAX_SIZE)."""
    _env(lambda: envvars.check_at_most(env_variables, lower, upper), within, evidence)


@step(within_phrase('the dotenv file "{path}" defines "{names}"'))
@read_only
def dotenv_defines(
    path: str, names: str, request: pytest.FixtureRequest, evidence: Evidence, within: float | None = None
) -> None:
    """The dotenv file exists and sets each listed variable to a real value."""
    runbook = request.config.stash.get(RUNBOOK_KEY, None)
    file = project_path(runbook, path)
    secret_names = runbook.secrets if runbook is not None else ()
    evidence.require(run(lambda: envvars.check_dotenv_defines(file, split_list(names), secret_names), within))


# --- tools ---------------------------------------------------------------------------------------


def _tool(tool: str, minimum: str | None, runner: tools.Runner) -> CheckResult:
    if minimum is not None:
        try:
            tools.version_tuple(minimum)
        except ValueError as exc:
            return unknown_name(f"{tool} installed", f"{exc}; write the step as: \"{tool}\" is installed at version"
                                " 20.10 or later")
    return tools.check_tool(tool, minimum, runner)


@step(within_phrase('"{tool}" is installed'))
@step(within_phrase('"{tool}" is installed at version {minimum} or later'))
@read_only
def tool_installed(tool: str, evidence: Evidence, minimum: str | None = None, within: float | None = None) -> None:
    """A tool (docker, docker compose, psql, kubectl, git, python3, ...) on this machine, version from --version."""
    evidence.require(run(lambda: _tool(tool, minimum, tools.LOCAL), within))


@step(within_phrase('"{tool}" is installed on the host "{host_name}"'))
@step(within_phrase('"{tool}" is installed at version {minimum} or later on the host "{host_name}"'))
@read_only
def tool_installed_on_host(
    tool: str, host_name: str, runbook: Runbook, evidence: Evidence, minimum: str | None = None,
    within: float | None = None,
) -> None:
    """The same, on a host named in the runbook's targets or by a testinfra spec (ssh://, docker://)."""
    spec = host_target.host_spec(runbook, host_name)
    evidence.require(run_on(spec, lambda resolved: _tool(tool, minimum, host.runner_for(resolved)), within))


# --- host resources ------------------------------------------------------------------------------


def _on_host(
    runbook: Runbook, host_name: str | None, measure: Callable[[str], CheckResult], within: float | None,
    evidence: Evidence,
) -> None:
    evidence.require(run_on(host_target.host_spec(runbook, host_name), measure, within))


@step(within_phrase("the host has at least {count:d} CPU cores"))
@step(within_phrase('the host "{host_name}" has at least {count:d} CPU cores'))
@read_only
def host_cpu_cores(
    count: int, runbook: Runbook, evidence: Evidence, host_name: str | None = None, within: float | None = None
) -> None:
    """CPU cores (nproc) on the host: a runbook target or testinfra spec; default the host target or this machine."""
    _on_host(runbook, host_name, lambda spec: host.check_cpu_cores(count, spec), within, evidence)


@step(within_phrase("the host has at least {gb:g} GB of memory"))
@step(within_phrase('the host "{host_name}" has at least {gb:g} GB of memory'))
@read_only
def host_memory(
    gb: float, runbook: Runbook, evidence: Evidence, host_name: str | None = None, within: float | None = None
) -> None:
    """MemTotal from /proc/meminfo, in GB of 10^9 bytes."""
    _on_host(runbook, host_name, lambda spec: host.check_memory(gb, spec), within, evidence)


@step(within_phrase('the host has at least {gb:g} GB free disk at "{path}"'))
@step(within_phrase('the host "{host_name}" has at least {gb:g} GB free disk at "{path}"'))
@read_only
def host_free_disk(
    gb: float, path: str, runbook: Runbook, evidence: Evidence, host_name: str | None = None,
    within: float | None = None,
) -> None:
    """Space available to unprivileged users (df -Pk) on the file system holding the path."""
    _on_host(runbook, host_name, lambda spec: host.check_free_disk(gb, path, spec), within, evidence)


# --- network and Docker --------------------------------------------------------------------------


def _docker_url(runbook: Runbook) -> str | None:
    """The runbook's docker target url, else None (DOCKER_HOST or the local socket)."""
    for target in runbook.targets:
        if target.kind == "docker" and target.url:
            return target.url
    return None


@step(within_phrase("the Docker daemon is reachable"))
@step(within_phrase("the Docker daemon is reachable at version {minimum} or later"))
@read_only
def docker_daemon_reachable(
    runbook: Runbook, evidence: Evidence, minimum: str | None = None, within: float | None = None
) -> None:
    """The engine answers (runbook docker target url, else DOCKER_HOST); its version at least the minimum."""
    if minimum is not None:
        try:
            tools.version_tuple(minimum)
        except ValueError as exc:
            evidence.require(unknown_name("Docker daemon reachable", str(exc)))
    evidence.require(run(lambda: net.check_docker_daemon(_docker_url(runbook), minimum), within))


@step(within_phrase("the Docker daemon has at least {gb:g} GB free disk for images"))
@read_only
def docker_image_space(gb: float, runbook: Runbook, evidence: Evidence, within: float | None = None) -> None:
    """Free space on the file system of the daemon's DockerRootDir (local socket, or ssh:// DOCKER_HOST)."""
    evidence.require(run(lambda: net.check_docker_image_space(gb, _docker_url(runbook)), within))


@step(within_phrase('port {port:d} on "{host_name}" is open'))
@read_only
def port_open(port: int, host_name: str, evidence: Evidence, within: float | None = None) -> None:
    """A TCP connection to host:port is accepted."""
    evidence.require(run(lambda: net.check_tcp_port(host_name, port), within))


@step(within_phrase('the DNS name "{name}" resolves'))
@step(within_phrase('the DNS name "{name}" resolves to "{address}"'))
@read_only
def dns_resolves(name: str, evidence: Evidence, address: str | None = None, within: float | None = None) -> None:
    """The name resolves (to the given address, when there is one)."""
    evidence.require(run(lambda: net.check_dns(name, address), within))


# --- files ---------------------------------------------------------------------------------------


@step(within_phrase('the file "{path}" exists'))
@step(within_phrase('the file "{path}" exists and is valid {file_format}'))
@read_only
def file_exists(
    path: str, request: pytest.FixtureRequest, evidence: Evidence, file_format: str | None = None,
    within: float | None = None,
) -> None:
    """A readable file (relative to the project); YAML/JSON/TOML/dotenv files must parse."""
    runbook = request.config.stash.get(RUNBOOK_KEY, None)
    file = project_path(runbook, path)
    if file_format is not None:
        try:
            files.normalise_format(file_format)
        except ValueError as exc:
            evidence.require(unknown_name(f"file {path}", str(exc)))
    evidence.require(run(lambda: files.check_file(file, file_format), within))


@step(within_phrase('the files "{paths}" exist'))
@read_only
def files_exist(paths: str, request: pytest.FixtureRequest, evidence: Evidence, within: float | None = None) -> None:
    """Each file of a comma-separated list exists; those whose name implies a format must parse."""
    runbook = request.config.stash.get(RUNBOOK_KEY, None)
    names = split_list(paths)
    evidence.require(run(
        lambda: combine(f"files {paths}", [files.check_file(project_path(runbook, n)) for n in names]), within
    ))


# --- PostgreSQL ----------------------------------------------------------------------------------


def _database(runbook: Runbook, check: Callable[[str, bool], CheckResult], within: float | None,
              evidence: Evidence) -> None:
    if runbook.database is None:
        evidence.require(no_database_section(runbook.name))
        return
    database = runbook.database
    evidence.require(run(lambda: check(database.dsn, database.require_ssl), within))


@step(within_phrase("the database accepts connections"))
@read_only
def database_accepts_connections(runbook: Runbook, evidence: Evidence, within: float | None = None) -> None:
    """A connection with database.dsn succeeds (and is encrypted when database.require_ssl is true)."""
    _database(runbook, lambda dsn, ssl: postgres.check_connects(dsn, require_ssl=ssl), within, evidence)


@step(within_phrase("the database connection uses SSL"))
@read_only
def database_uses_ssl(runbook: Runbook, evidence: Evidence, within: float | None = None) -> None:
    """The connection made with database.dsn is encrypted (pg_stat_ssl)."""
    _database(runbook, lambda dsn, ssl: postgres.check_uses_ssl(dsn), within, evidence)


@step(within_phrase('the database has the extension "{extension}" available'))
@read_only
def database_extension_available(
    extension: str, runbook: Runbook, evidence: Evidence, within: float | None = None
) -> None:
    """The server offers the extension (pg_available_extensions), e.g. timescaledb."""
    _database(runbook, lambda dsn, ssl: postgres.check_extension(dsn, extension), within, evidence)


@step(within_phrase('the database has the extension "{extension}" installed'))
@read_only
def database_extension_installed(
    extension: str, runbook: Runbook, evidence: Evidence, within: float | None = None
) -> None:
    """The extension is created in the database (pg_extension)."""
    _database(runbook, lambda dsn, ssl: postgres.check_extension(dsn, extension, installed=True), within, evidence)


@step(within_phrase("the database server is at version {minimum} or later"))
@read_only
def database_server_version(minimum: str, runbook: Runbook, evidence: Evidence, within: float | None = None) -> None:
    """The PostgreSQL server version (server_version_num) is at least the minimum, e.g. 14 or 15.2."""
    _database(runbook, lambda dsn, ssl: postgres.check_server_version(dsn, minimum), within, evidence)
