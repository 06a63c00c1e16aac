Feature: Snowmobile Product Data Reconciliation System - deployment checklist (seed 000)
  The deployment guide of the snowmobile reconciliation system: Compose with PostgreSQL,
  alembic migrations, pg_dump backups with a 30-day retention, a non-root image with a health
  check, Prometheus metrics, least-privilege database roles and an image retag rollback.
  Runbook: runbooks/seed-000-snowmobile.yaml (the demo image plays the snowmobile API).

  # --- Pre-Deployment (Required) -------------------------------------------------------------

  @preflight @critical
  Scenario: Code Quality - all quality checks pass (make validate-all)
    Then the command "make validate-all" succeeds

  @preflight @manual
  Scenario: Testing - full test suite passes with 80%+ coverage
    Then a person has confirmed this item

  @preflight @critical
  Scenario: Security - security scan shows zero vulnerabilities
    Then the command "make security-scan" succeeds

  @preflight @manual
  Scenario: Performance - benchmarks meet requirements
    Then a person has confirmed this item

  @preflight @manual
  Scenario: Documentation - all documentation updated
    Then a person has confirmed this item

  @preflight @critical
  Scenario: The target environment is ready
    Given the release version is set
    And the image for the release exists
    Then the Docker daemon is reachable
    And the database accepts connections
    And the database server is at version 15 or later

  @backup @critical
  Scenario: Backup - current state backed up (make backup-production)
    Given the schema version is recorded
    When a verified backup of the database is taken
    And the data fingerprint is recorded
    Then the backup is verified

  @backup
  Scenario: Backups older than the retention period are removed
    When old backups are removed

  @migrate @critical
  Scenario: Database - migrations tested and validated (alembic upgrade head)
    Then the migrations are reversible
    When the migrations are applied
    Then no migration is pending
    And the migrations finish within 120 seconds

  @preflight @manual
  Scenario: Rollback Plan - rollback procedure tested
    Then a person has confirmed this item

  # --- During Deployment ---------------------------------------------------------------------

  @deploy @critical
  Scenario: Deploy to production with docker-compose up -d, one instance at a time
    When the release is deployed
    Then no request failed during the rolling deployment
    And "snowmobile-api" serves the release version within 30 seconds

  @smoke @critical
  Scenario: Health Checks - continuous health validation (make health-check-production)
    Then all containers are running and healthy
    And "snowmobile-api" answers GET "/health" with status 200
    And the JSON field "status" of "snowmobile-api" "/health" is "healthy"
    And the JSON field "status" of "snowmobile-api" "/health/db" is "healthy"
    And the command "make health-check" succeeds

  @smoke @critical
  Scenario: The container runs as the non-root user
    Then the process "demo_service serve" runs as a non-root user on the host "local://"

  @smoke @critical
  Scenario: The application role has the minimal necessary permissions
    Then the application role cannot create or drop tables

  @smoke @critical
  Scenario: The read-only role can only read
    Then the read-only role can only select

  @smoke
  Scenario: Monitoring - real-time monitoring active
    Then Prometheus scrapes "snowmobile-api" within 30 seconds
    And the metric "http_requests_total" of "snowmobile-api" is reported within 30 seconds
    And the metric "http_request_duration_seconds_bucket" of "snowmobile-api" is reported within 30 seconds

  @slo @critical
  Scenario: Error Tracking - watch for error spikes
    Then while the load profile "users" runs, the error rate of "snowmobile-api" stays below 5% for 20 seconds
    And no alert is firing for "snowmobile-api"

  @slo @critical
  Scenario: Performance - verify performance targets met
    Then while the load profile "users" runs, the p95 latency of "snowmobile-api" stays below 1000 ms for 20 seconds

  @manual
  Scenario: Performance - monitor resource usage
    Then a person has confirmed this item

  @load @critical
  Scenario: Performance testing (make load-test-staging)
    When the load profile "staging" runs
    Then the load stage passed its thresholds

  # --- Post-Deployment -----------------------------------------------------------------------

  @slo
  Scenario: Monitoring - confirm all monitoring systems active
    Then the alert rules "HighErrorRate, HighLatencyP95, ServiceDown" are loaded
    And Prometheus scrapes "snowmobile-api"

  @slo
  Scenario: User Impact - monitor customer-facing services
    Then the availability of "snowmobile-api" is at least 99% for 20 seconds

  @manual
  Scenario: Documentation - update deployment records
    Then a person has confirmed this item

  @load
  Scenario: Team Notification - notify stakeholders of completion
    Then the team is notified in "#snowmobile-ops" that "snowmobile release deployed and verified"

  # --- Rollback Procedures -------------------------------------------------------------------

  @post-rollback @critical
  Scenario: Validate rollback success
    Then "snowmobile-api" serves the previous version within 60 seconds
    And the command "make health-check" succeeds
    And "snowmobile-api" answers GET "/api/items" with status 200
    And the schema version is the one recorded before the release
    And no data written before the release is lost
