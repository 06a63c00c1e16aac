"""releasegate's pytest plugin: its hookspecs (hooks.py), its markers, one plugin module per concern
and every step module.

Installed, the ``pytest11`` entry point ``releasegate.plugins`` loads this module in every pytest
run of the environment; nothing else is needed. The entry point has the module's own name, so a
conftest that also lists ``pytest_plugins = ["releasegate.plugins"]`` (this repository's root one,
for a checkout whose environment predates the entry point) finds it registered and adds nothing.
``pytest -p no:releasegate.plugins`` turns it off. The plugins share state through ``config.stash``
keys (each defined by the plugin that owns the value) and hooks.py:

    environment   --env/--release: the runbook                         RUNBOOK_KEY, SELECTION_KEY
    collection    .feature files collected directly, steps and tags validated
    stages        classify and order the scenarios                       SCENARIOS_KEY
    journal       the run's journal, shared with the workers; release_journal  JOURNAL_KEY
    halt          stop the line: halt file, skips, the post-rollback gate  HALT_LINE_KEY
    barrier       under xdist, a stage starts once every earlier stage finished
    rollback      on the controller: decide, run the plan once; SIGTERM, --rollback-only
    lock          one release at a time per environment; release windows  LOCK_KEY
    notifications webhook messages at start, rollback and finish
    dryrun        --dry-run: the plan, only read-only scenarios run      DRY_RUN_KEY
    safety        approval of destructive stages, @manual confirmations  SAFETY_KEY
    evidence      check results in Allure and user_properties, short failure text
    redaction     secrets masked in every output
    reporting     reports/allure-results, reports/junit.xml
    summary       what ran and failed, per stage, on the controller       SUMMARY_KEY
    signoff       reports/signoff.md, the verdict and the exit code
    stack, targets  the local stack and the runbook's deployment targets
"""

from __future__ import annotations

import pkgutil

import pytest

from releasegate import steps as _steps  # the package only: pytest imports the step modules as plugins

PLUGINS = [
    "releasegate.plugins.environment",
    "releasegate.plugins.collection",
    "releasegate.plugins.evidence",
    "releasegate.plugins.stack",
    "releasegate.plugins.redaction",
    "releasegate.plugins.reporting",
    "releasegate.plugins.stages",
    "releasegate.plugins.dryrun",
    "releasegate.plugins.safety",
    "releasegate.plugins.journal",
    "releasegate.plugins.halt",
    "releasegate.plugins.barrier",
    "releasegate.plugins.rollback",
    "releasegate.plugins.lock",
    "releasegate.plugins.notifications",
    "releasegate.plugins.summary",
    "releasegate.plugins.signoff",
    "releasegate.plugins.targets",
]

# Every step definition is a fixture of a plugin module, so every feature file sees every step.
STEP_MODULES = sorted(f"releasegate.steps.{module.name}" for module in pkgutil.iter_modules(_steps.__path__)
                      if not module.name.startswith("_"))

pytest_plugins = [*PLUGINS, *STEP_MODULES]

# Tags a feature may use (pytest-bdd turns them into markers); registered here so that --strict-markers
# works in any project that installs releasegate, without a line of its configuration.
MARKERS = {
    "critical": "a failure halts the release and triggers the rollback plan",
    "manual": "a checklist item a person confirms; pending until a confirmation is recorded",
    "preflight": "read-only checks before anything changes",
    "backup": "database backup stage",
    "migrate": "database migration stage (changes the database)",
    "deploy": "deployment stage (changes the target)",
    "smoke": "smoke checks after a deployment",
    "slo": "SLO analysis on Prometheus",
    "load": "load stage with Locust",
    "post-rollback": "checks that run after a rollback",
    "destructive": "changes the environment; refused in dry-run and without approval where required",
}


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from releasegate.plugins import hooks

    pluginmanager.add_hookspecs(hooks)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Bad input is refused before any plugin is configured, so nothing is touched.

    Other plugins' ``pytest_configure`` may run before releasegate's (entry points are loaded in the
    order of the installation), and allure-pytest-bdd makes its results folder in its own. The checks
    run here in the order they depend on each other; each plugin's ``pytest_configure`` then finds
    its state (an xdist worker, which has no ``pytest_cmdline_main``, builds it there).
    """
    if config.option.version or config.option.help:
        return
    from releasegate.plugins import environment, safety, signoff

    environment.configure_environment(config)
    safety.configure_safety(config)
    signoff.check_signoff_option(config)


def pytest_configure(config: pytest.Config) -> None:
    for name, meaning in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {meaning}")
