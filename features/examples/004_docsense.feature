Feature: Trading Algorithm Document Analyzer - production deployment (seed 004)
  Kubernetes or Docker Compose: critical variables and CORS, database backup and schema
  migrations with a verified schema version, backend then frontend with a zero-downtime rolling
  update, smoke tests, projections, success criteria (error rate < 1%, p95 < 1s), rollback
  (rollout undo, database restore) and team communication.
  Runbook: runbooks/seed-004-docsense.yaml.

  # --- Pre-Deployment --------------------------------------------------------------------------

  @preflight @manual
  Scenario: All tests passing (unit, integration, E2E)
    Then a person has confirmed this item

  @preflight @manual
  Scenario: Code review approved by at least 2 reviewers
    Then a person has confirmed this item

  @migrate @critical
  Scenario: Database migrations tested on staging
    Then the migrations are reversible

  @preflight @manual
  Scenario: Dependency security scan completed (no critical vulnerabilities)
    Then a person has confirmed this item

  @preflight @manual
  Scenario: Rollback plan documented
    Then a person has confirmed this item

  @preflight
  Scenario: Monitoring alerts configured
    Then the alert rules "HighErrorRate, HighLatencyP95, ServiceDown" are loaded

  @preflight @manual
  Scenario: On-call engineer identified
    Then a person has confirmed this item

  # --- Environment Variables -------------------------------------------------------------------

  @preflight @critical
  Scenario: Critical variables are set
    Given the environment variables are read from the dotenv file "runbooks/seed-files/004/.env.production"
    Then the environment variable "DATABASE_URL" is a PostgreSQL DSN
    And at least one of "ANTHROPIC_API_KEY, OPENAI_API_KEY, GEMINI_API_KEY" is set
    And the environment variable "CORS_ORIGINS" is a list of URLs
    And the environment variable "DB_POOL_MIN_SIZE" is an integer between 1 and 1000
    And the environment variable "DB_POOL_MAX_SIZE" is an integer between 1 and 1000
    And "DB_POOL_MIN_SIZE" is at most "DB_POOL_MAX_SIZE"
    And the environment variable "LOG_LEVEL" is one of "DEBUG, INFO, WARNING, ERROR"
    And the environment variable "LOG_FORMAT" is one of "json"
    And the environment variable "ENVIRONMENT" is one of "production"

  @preflight @critical
  Scenario: The database holds the connection pool
    Given the environment variables are read from the dotenv file "runbooks/seed-files/004/.env.production"
    Then the database accepts connections
    And the database allows the connection pool in "DB_POOL_MAX_SIZE" for 4 instances

  @preflight @critical
  Scenario: Prerequisites - cluster or Compose environment configured
    Given the image for the release exists
    Then the Docker daemon is reachable
    And "docker compose" is installed

  # --- Step 1: Database Migration --------------------------------------------------------------

  @backup @critical
  Scenario: Create database backup
    Given the schema version is recorded
    When a verified backup of the database is taken
    And the data fingerprint is recorded
    Then the backup is verified

  @migrate @critical
  Scenario: Apply the schema and verify the schema version
    When the migrations are applied
    Then no migration is pending
    And the migrations finish within 120 seconds

  # --- Steps 2-4: build, deploy backend, then frontend -----------------------------------------

  @deploy @critical
  Scenario: Deploy backend, then frontend after the backend is confirmed healthy
    When the release is deployed
    Then every service serves the release version within 60 seconds
    And no request failed during the rolling deployment

  @smoke @critical
  Scenario: Configuration validation at startup
    Then the logs of "docsense-backend" do not contain "Configuration validation failed"

  # --- Step 5: Smoke Tests ---------------------------------------------------------------------

  @smoke @critical
  Scenario: Smoke - health check and API version
    Then "docsense-backend" answers GET "/health" with status 200
    And "docsense-backend" answers GET "/version" with status 200
    And the JSON of "docsense-backend" "/version" has the fields "version"

  @smoke @critical
  Scenario: Smoke - frontend loads
    Then "docsense-frontend" answers on its health path

  @smoke @critical
  Scenario: Smoke - database connectivity
    Then the JSON field "status" of "docsense-backend" "/health/db" is "healthy"

  @smoke
  Scenario: Smoke - AI provider connectivity
    Then "docsense-backend" answers GET "/health/ai" with status 200
    And the JSON of "docsense-backend" "/health/ai" has the fields "providers"

  @smoke @critical
  Scenario: Smoke - projection health
    Then the JSON of "docsense-backend" "/health/projections" has the fields "projections[].name, projections[].status"
    And the JSON field "projections[].status" of "docsense-backend" "/health/projections" is "healthy"

  @smoke @critical
  Scenario: CORS_ORIGINS includes the frontend domain
    Given the environment variables are read from the dotenv file "runbooks/seed-files/004/.env.production"
    Then CORS on "docsense-backend" allows the origins in "CORS_ORIGINS"

  # --- Step 6 and 7: monitor metrics, verify projections ---------------------------------------

  @smoke
  Scenario: Metrics to monitor are collected
    Then Prometheus scrapes "docsense-backend" within 30 seconds
    And the metric "http_requests_total" of "docsense-backend" is reported within 30 seconds
    And the metric "http_request_duration_seconds_bucket" of "docsense-backend" is reported within 30 seconds

  @smoke
  Scenario: Projection lag
    Then the JSON field "projections[].lag" of "docsense-backend" "/health/projections" is "0"

  # --- Success Criteria ------------------------------------------------------------------------

  @slo @critical
  Scenario: All pods/containers running and healthy
    Then all containers are running and healthy

  @slo @critical
  Scenario: Health checks passing for 30 minutes
    Then while the load profile "users" runs, the SLO analysis of "docsense-backend" passes

  @slo @critical
  Scenario: Error rate < 1%
    Then while the load profile "users" runs, the error rate of "docsense-backend" stays below 1% for 20 seconds

  @slo @critical
  Scenario: Response time within SLA (p95 < 1s)
    Then while the load profile "users" runs, the p95 latency of "docsense-backend" stays below 1000 ms for 20 seconds

  @slo @critical
  Scenario: No projection failures
    Then the JSON field "projections[].status" of "docsense-backend" "/health/projections" is "healthy"

  @manual
  Scenario: User-facing functionality verified manually
    Then a person has confirmed this item

  @slo
  Scenario: No critical errors in logs
    Then the logs of "docsense-backend" do not contain "CRITICAL"
    And the logs of "docsense-backend" do not contain "Traceback"

  @load @critical
  Scenario: Performance testing completed (load testing passed)
    When the load profile "performance" runs
    Then the load stage passed its thresholds

  # --- Communication ---------------------------------------------------------------------------

  @load
  Scenario: Notify team in Slack #deployments channel
    Then the team is notified in "#deployments" that "docsense deployed: backend and frontend verified"

  @manual
  Scenario: Update status page (if applicable)
    Then a person has confirmed this item

  @manual
  Scenario: Document any issues encountered
    Then a person has confirmed this item

  # --- Rollback Procedure ----------------------------------------------------------------------

  @post-rollback @critical
  Scenario: Verify rollback - previous version, rollout complete, database restored
    Then "docsense-backend" serves the previous version within 60 seconds
    And "docsense-frontend" serves the previous version within 60 seconds
    And all containers are running and healthy
    And the schema version is the one recorded before the release
    And no data written before the release is lost

  @post-rollback
  Scenario: Notify the team of the rollback
    Then the team is notified in "#deployments" that "docsense release rolled back to the previous version"

  @post-rollback @manual
  Scenario: Schedule post-mortem if rollback was needed
    Then a person has confirmed this item
