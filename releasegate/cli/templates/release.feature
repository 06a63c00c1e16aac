Feature: Release of [[ service ]] to [[ env ]]
  The release checklist of [[ service ]], written by releasegate init; edit it as your release needs.

    pytest features/release.feature --env [[ env ]] --release 1.1.0 --dry-run   # the plan, changes nothing
    pytest features/release.feature --env [[ env ]] --release 1.1.0             # the release

  Scenarios run in stage order ([% if database %]preflight, backup, migrate, deploy, smoke, post-rollback[% else %]preflight, deploy, smoke, post-rollback[% endif %]).
  The first failing @critical scenario stops the release and the changes made so far are undone,
  newest first; the @post-rollback scenarios then verify the result. reports/signoff.md holds the
  decision (exit 0 PROMOTED, 1 BLOCKED or ROLLED BACK, 10 HALTED, 11 ROLLBACK FAILED, 12 PASSED
  when only part of the release ran). Every step phrase: pytest --list-steps

  # --- Preflight: nothing is changed until all of this holds ------------------------------------

  @preflight @critical
  Scenario: The version to release is known
    Given the environment is "[[ env ]]"
    And the release version is set

[% if target in ("docker", "compose") %]
  @preflight @critical
  Scenario: The Docker engine is ready and the release image is there
    Given the image for the release exists
    Then the Docker daemon is reachable

[% elif target == "kubernetes" %]
  @preflight @critical
  Scenario: The cluster tools are ready
    Then "kubectl" is installed

[% endif %]
  @preflight @critical
  Scenario: The previous version is serving and healthy
    Then "[[ service ]]" answers on its health path
    And "[[ service ]]" serves the previous version

[% if database %]
  @preflight @critical
  Scenario: The database is reachable
    Then the database accepts connections
    And the database server is at version 13 or later

[% endif %]
  @preflight @manual
  Scenario: Change approved and the deployment window announced
    Then a person has confirmed this item

[% if database %]
  # --- Database: a verified backup, then the migration -------------------------------------------

  @backup @critical
  Scenario: A verified backup of the database is taken
    Given the schema version is recorded
    And the data fingerprint is recorded
    When a verified backup of the database is taken
    Then the backup is verified

  @migrate @critical
  Scenario: The schema is migrated to the version the release needs
    When the migrations are applied
    Then no migration is pending

[% endif %]
  # --- Deployment: the runbook's deploy.strategy on its deploy.target -----------------------------

  @deploy @critical
  Scenario: The release is deployed
    When the release is deployed
    Then every service serves the release version within 60 seconds
[% if target in ("docker", "compose") %]
    And all containers are running and healthy
[% elif target == "kubernetes" %]
    And all pods are running and healthy
[% else %]
    And all instances are running and healthy
[% endif %]

  # --- Smoke tests --------------------------------------------------------------------------------

  @smoke @critical
  Scenario: The new version answers
    Then "[[ service ]]" answers on its health path
    And "[[ service ]]" serves the release version

  # --- Rollback verification (only after a rollback) ----------------------------------------------

  @post-rollback @critical
  Scenario: The previous version serves again
    Then "[[ service ]]" serves the previous version within 60 seconds
    And "[[ service ]]" answers on its health path
[% if database %]

  @post-rollback @critical
  Scenario: No data written before the release is lost
    Then no data written before the release is lost
[% endif %]
