"""Operations steps: host commands, team notifications, monitoring in place.

- ``the command "NAME" succeeds``: NAME is a checklist's command (``make validate-all``,
  ``alembic current``); the runbook's ``commands:`` says what it runs in this environment, else
  it runs as written (``bash -c`` from the project folder).
- ``the team is notified in "#channel"``: a message through ``notifications.webhook_url``; the
  check passes when the webhook accepted it.
- Monitoring: alert rules loaded in the runbook's Prometheus, every instance of a service
  scraped, a metric reported; memory, CPU and logs of a service's containers (docker stats, docker logs).
  Every phrase but the notification may end with " within N seconds".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pytest_bdd import parsers, step

from releasegate.checks.deploy import logs, resources
from releasegate.checks.deploy.targets.base import Target
from releasegate.checks.errors import NotInRunbook, ReleaseGateError
from releasegate.checks.preflight import commands, http
from releasegate.checks.result import CheckResult
from releasegate.checks.run import notify_team
from releasegate.checks.runbook.model import Runbook
from releasegate.checks.slo import monitoring
from releasegate.plugins.collection import scenario_location
from releasegate.plugins.dryrun import changes, read_only, read_only_when
from releasegate.plugins.evidence import Evidence
from releasegate.steps._phrases import project_root, run, split_list, within_phrase


def _read_only_command(arguments: Mapping[str, Any], runbook: Runbook | None) -> str | None:
    return commands.why_not_read_only(str(arguments["name"]), runbook)


@step(within_phrase('the command "{name}" succeeds'))
@read_only_when(_read_only_command)
def command_succeeds(name: str, runbook: Runbook, evidence: Evidence, within: float | None = None) -> None:
    """The command (runbook commands.NAME, else NAME as written) exits 0; output tail in the evidence."""
    command = commands.resolve(name, runbook, project_root(runbook))
    evidence.require(run(lambda: commands.check_succeeds(command), within))


@step(within_phrase('the command "{name}" prints "{text}"'))
@read_only_when(_read_only_command)
def command_prints(name: str, text: str, runbook: Runbook, evidence: Evidence, within: float | None = None) -> None:
    """The command exits 0 and its output contains the text (e.g. an alembic revision)."""
    command = commands.resolve(name, runbook, project_root(runbook))
    evidence.require(run(lambda: commands.check_output_contains(command, text), within))


def _scenario(request: pytest.FixtureRequest) -> str:
    location = scenario_location(request.node)
    return location[2] if location else request.node.name


def _notify(channel: str, message: str | None, runbook: Runbook, evidence: Evidence,
            request: pytest.FixtureRequest) -> None:
    version = runbook.version_to or "?"
    text = message or f"{runbook.name}: release {version}: {_scenario(request)}"
    settings = runbook.notifications
    evidence.require(notify_team(settings.webhook_url, channel, text, timeout_s=settings.timeout_s,
                                     retries=settings.retries))


@step(parsers.parse('the team is notified in "{channel}"'))
@changes
def team_notified(channel: str, runbook: Runbook, evidence: Evidence, request: pytest.FixtureRequest) -> None:
    """A message naming the release and the scenario reaches the channel (notifications.webhook_url)."""
    _notify(channel, None, runbook, evidence, request)


@step(parsers.parse('the team is notified in "{channel}" that "{message}"'))
@changes
def team_notified_that(channel: str, message: str, runbook: Runbook, evidence: Evidence,
                       request: pytest.FixtureRequest) -> None:
    """This message reaches the channel through notifications.webhook_url."""
    _notify(channel, message, runbook, evidence, request)


@step(within_phrase('the alert rules "{names}" are loaded'))
@read_only
def alert_rules_loaded(names: str, runbook: Runbook, evidence: Evidence, within: float | None = None) -> None:
    """Each alerting rule of a comma-separated list is loaded in the runbook's Prometheus."""
    wanted = split_list(names)
    evidence.require(run(lambda: monitoring.check_alert_rules(runbook, wanted), within))


@step(within_phrase('the alert rule "{name}" is loaded'))
@read_only
def alert_rule_loaded(name: str, runbook: Runbook, evidence: Evidence, within: float | None = None) -> None:
    """The alerting rule is loaded in the runbook's Prometheus."""
    evidence.require(run(lambda: monitoring.check_alert_rules(runbook, [name], f"alert rule {name}"), within))


@step(within_phrase('Prometheus scrapes "{service}"'))
@read_only
def prometheus_scrapes(service: str, runbook: Runbook, evidence: Evidence, within: float | None = None) -> None:
    """At least one scrape target has the service's label (prometheus.service_label) and every one is up."""
    evidence.require(run(lambda: monitoring.check_service_scraped(runbook, service), within))


@step(within_phrase('the metric "{metric}" of "{service}" is reported'))
@read_only
def metric_reported(metric: str, service: str, runbook: Runbook, evidence: Evidence,
                    within: float | None = None) -> None:
    """Prometheus holds at least one series of the metric for the service."""
    evidence.require(run(lambda: monitoring.check_metric_reported(runbook, metric, service), within))


@step(within_phrase('every container of "{service}" uses less than {mb:g} MB of memory'))
@read_only
def memory_below(service: str, mb: float, deploy_target: Target, evidence: Evidence,
                 within: float | None = None) -> None:
    """docker stats: every running container of the service uses less memory than this (page cache excluded)."""
    evidence.require(run(lambda: resources.check_usage(deploy_target, service, "memory_mb", mb, " MB"), within))


@step(within_phrase('every container of "{service}" uses less than {percent:g}% CPU'))
@read_only
def cpu_below(service: str, percent: float, deploy_target: Target, evidence: Evidence,
              within: float | None = None) -> None:
    """docker stats: every running container of the service uses less CPU than this (% of one core)."""
    evidence.require(run(lambda: resources.check_usage(deploy_target, service, "cpu_percent", percent, "%"), within))


@step(within_phrase('the logs of "{service}" do not contain "{text}"'))
@read_only
def logs_free_of(service: str, text: str, deploy_target: Target, evidence: Evidence,
                 within: float | None = None) -> None:
    """docker logs of every running container of the service: no line contains the text (last 5000 lines)."""
    evidence.require(run(lambda: logs.check_logs_free_of(deploy_target, service, text), within))


@step(within_phrase('"{service}" answers on its health path'))
@read_only
def answers_on_health_path(service: str, runbook: Runbook, evidence: Evidence, within: float | None = None) -> None:
    """GET the service's health path (services[].health of this runbook: "/" for a frontend, "/health", ...) is 200."""
    try:
        spec = runbook.service(service)
    except NotInRunbook as exc:
        evidence.require(CheckResult.unknown(f"{service} health", str(exc), "a runbook service"))
        return
    url = http.join_url(spec.base_url, spec.health)
    evidence.require(run(lambda: http.check_status(url, 200, "GET"), within))


def _serves(service: str, version: str | None, which: str, deploy_target: Target) -> CheckResult:
    check = f"{service} serves the {which} version"
    if not version:
        field = "release.version (or --release)" if which == "release" else "release.previous_version"
        return CheckResult.fail(check, f"no {which} version in the runbook", f"a version in {field}")
    try:
        seen = deploy_target.serving_version(service)
    except ReleaseGateError as exc:  # an unreachable target is not a verdict on the release
        return CheckResult.unknown(check, str(exc), version)
    return CheckResult.judge(check, seen == version, seen, version)


@step(within_phrase('"{service}" serves the release version'))
@read_only
def serves_release_version(service: str, runbook: Runbook, deploy_target: Target, evidence: Evidence,
                           within: float | None = None) -> None:
    """What the target serves for the service is release.version (or --release)."""
    evidence.require(run(lambda: _serves(service, runbook.version_to, "release", deploy_target), within))


@step(within_phrase('"{service}" serves the previous version'))
@read_only
def serves_previous_version(service: str, runbook: Runbook, deploy_target: Target, evidence: Evidence,
                            within: float | None = None) -> None:
    """What the target serves for the service is release.previous_version (after a rollback)."""
    evidence.require(run(lambda: _serves(service, runbook.version_from, "previous", deploy_target), within))
