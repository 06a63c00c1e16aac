Feature: Release of the demo service (preflight, backup, migration, deployment, smoke, SLO under load)
  The release checklist of one service, end to end:

    pytest features/release.feature --env local                          # 1.0.0 -> 1.1.0
    pytest features/release.feature --env local --release 1.1.0-errors   # a faulty build: rolled back

  Scenarios run in stage order (preflight, backup, migrate, deploy, smoke, slo, post-rollback).
  The first failing @critical scenario stops the release; the changes recorded so far are undone
  once, newest first (traffic back to the previous colour, then the schema back to the revision
  recorded before the release), and the @post-rollback scenarios verify the result.
  reports/signoff.md, reports/junit.xml and reports/allure-results are the record of the run.

  # --- Preflight: nothing is changed until all of this holds ------------------------------------

  @preflight @critical
  Scenario: The version to release is known and its image is on the target
    Given the release version is set
    And the image for the release exists

  @preflight @critical
  Scenario: The deployment tools and the Docker engine are ready
    Then "docker" is installed
    And the Docker daemon is reachable
    And the Docker daemon has at least 2 GB free disk for images
    And the host has at least 1 GB free disk at "reports"

  @preflight @critical
  Scenario: The database is reachable and can hold the connection pools
    Then the database accepts connections
    And the database server is at version 13 or later
    And the database allows a connection pool of 10 connections for 2 instances

  @preflight @critical
  Scenario: Monitoring is in place before anything changes
    Then Prometheus scrapes "demo-api" within 30 seconds
    And the alert rules "HighErrorRate, HighLatencyP95, ServiceDown" are loaded
    And no alert is firing for "demo-api"

  @preflight @critical
  Scenario: The previous version is serving and healthy
    Then "demo-api" serves the previous version
    And "demo-api" answers GET "/health" with status 200
    And the JSON field "status" of "demo-api" "/health/db" is "healthy"

  @preflight @manual
  Scenario: Change approved and the deployment window announced
    Then a person has confirmed this item

  # --- Database: a verified backup, then the migration -------------------------------------------

  @backup @critical
  Scenario: A verified backup of the database is taken
    Given the schema version is recorded
    And the data fingerprint is recorded
    When a verified backup of the database is taken
    Then the backup is verified

  @backup
  Scenario: Backups past their retention are removed
    When old backups are removed

  @migrate @critical
  Scenario: The schema is migrated to the version the release needs
    When the migrations are applied
    Then no migration is pending
    And the migrations finish within 120 seconds

  @migrate @critical
  Scenario: The migration can be undone and the application role stays least-privileged
    Then the migrations are reversible
    And the application role cannot create or drop tables

  # --- Deployment: the runbook's strategy (local: blue-green behind the nginx router) --------------

  @deploy @critical
  Scenario: The release is deployed without dropping a request
    When the release is deployed
    Then no request failed during the switch
    And every service serves the release version within 60 seconds
    And all containers are running and healthy

  # --- Smoke tests --------------------------------------------------------------------------------

  @smoke @critical
  Scenario: Health, readiness and version endpoints answer as expected
    Then "demo-api" answers GET "/health" with status 200
    And the JSON of "demo-api" "/health" has the fields "status, timestamp, version"
    And the JSON field "status" of "demo-api" "/health" is "healthy"
    And "demo-api" answers GET "/ready" with status 200
    And the JSON field "status" of "demo-api" "/health/db" is "healthy"
    And "demo-api" serves the release version

  @smoke @critical
  Scenario: The API answers quickly
    Then "demo-api" answers GET "/api/items" with status 200
    And "demo-api" answers GET "/health" in under 500 ms

  @smoke @critical
  Scenario: Metrics of the new version reach Prometheus
    Then the metric "http_requests_total" of "demo-api" is reported within 30 seconds
    And Prometheus scrapes "demo-api"

  # --- SLO gates under the release load profile ---------------------------------------------------

  @slo @critical
  Scenario: The error rate stays below 5% under the release load profile
    When while the load profile "release" runs, the error rate of "demo-api" stays below 5%
    Then the load stage passed its thresholds

  @slo @critical
  Scenario: Latency, success rate and alerts right after the load
    Then the p95 latency of "demo-api" is below 1000 ms
    And the success rate of "demo-api" is at least 99%
    And no alert is firing for "demo-api"

  # --- Rollback verification (only after a rollback) ----------------------------------------------

  @post-rollback @critical
  Scenario: The previous version serves again
    Then "demo-api" serves the previous version within 60 seconds
    And "demo-api" answers GET "/health" with status 200
    And "demo-api" answers GET "/api/items" with status 200

  @post-rollback @critical
  Scenario: The database is back at the previous schema and nothing is lost
    Then the schema version is the one recorded before the release
    And no data written before the release is lost
