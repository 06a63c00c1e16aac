Feature: 003 Worker Refactor - production deployment (seed 001)
  Local-first deployment of the API server (FastAPI) and the BaseWorker (Celery): prerequisites,
  dry run (pytest --dry-run), infrastructure then application deployment, validation against the
  local baseline, smoke tests, health check and automatic rollback (disabled with --no-rollback).
  Runbook: runbooks/seed-001-worker-refactor.yaml.

  # --- Prerequisites and Step 1: pre-deployment validation (--dry-run) -------------------------

  @preflight @critical
  Scenario: Required tools are available
    Then "docker" is installed
    And "docker compose" is installed
    And "python3" is installed at version 3.8 or later
    And "git" is installed
    And the Docker daemon is reachable

  @preflight @critical
  Scenario: Required files exist and configuration files are valid
    Then the file "runbooks/seed-files/001/infrastructure/config/production.yaml" exists and is valid YAML
    And the file "runbooks/seed-files/001/.env.production" exists and is valid dotenv

  @preflight @critical
  Scenario: Production environment variables are configured
    Given the environment variables are read from the dotenv file "runbooks/seed-files/001/.env.production"
    Then the environment variables "DATABASE_URL, SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY, LLAMAPARSE_API_KEY, OPENAI_API_KEY, JWT_SECRET_KEY" are set and not placeholders
    And the environment variable "DATABASE_URL" is a PostgreSQL DSN
    And the environment variable "SUPABASE_URL" is a URL

  # --- 1. Local Environment Validation ---------------------------------------------------------

  @preflight @manual
  Scenario: Phase 6 local environment is fully functional
    Then a person has confirmed this item

  @preflight @critical
  Scenario: All tests pass in local environment
    Then the command "pytest" succeeds

  @preflight @manual
  Scenario: Local monitoring is working correctly
    Then a person has confirmed this item

  # --- 2. Production Environment Preparation ---------------------------------------------------

  @preflight @critical
  Scenario: Production database is accessible
    Then the database accepts connections
    And the database server is at version 14 or later

  @preflight
  Scenario: Production monitoring is set up
    Then the alert rules "HighErrorRate, HighLatencyP95, ServiceDown" are loaded

  # --- 3. Security Review ----------------------------------------------------------------------

  @preflight @manual
  Scenario: All API keys are valid and have correct permissions
    Then a person has confirmed this item

  @preflight @critical
  Scenario: Database connections use SSL
    Then the database connection uses SSL

  @smoke @critical
  Scenario: CORS settings are properly configured
    Given the environment variables are read from the dotenv file "runbooks/seed-files/001/.env.production"
    Then CORS on "worker-api" allows the origins in "CORS_ORIGINS"

  @preflight @manual
  Scenario: Rate limiting is enabled
    Then a person has confirmed this item

  @preflight @manual
  Scenario: Audit logging is configured
    Then a person has confirmed this item

  # --- 4. Backup and Recovery ------------------------------------------------------------------

  @backup @critical
  Scenario: Current production state is backed up
    Given the schema version is recorded
    When a verified backup of the database is taken
    And the data fingerprint is recorded
    Then the backup is verified

  @backup
  Scenario: Backup retention policies are configured
    When old backups are removed

  @preflight @manual
  Scenario: Rollback procedures are documented
    Then a person has confirmed this item

  @preflight @manual
  Scenario: Recovery procedures are tested
    Then a person has confirmed this item

  # --- Step 2: infrastructure deployment (database schema updates) -----------------------------

  @migrate @critical
  Scenario: Infrastructure deployment - database schema updates
    When the migrations are applied
    Then no migration is pending

  # --- Step 3: application deployment ----------------------------------------------------------

  @deploy @critical
  Scenario: Application deployment - API server, then BaseWorker
    When the release is deployed
    Then every service serves the release version within 30 seconds
    And no request failed during the blue-green deployment

  # --- Step 4 and Step 6: validation and smoke tests -------------------------------------------

  @smoke @critical
  Scenario: API server functionality and API health checks
    Then "worker-api" answers GET "/health" with status 200
    And the JSON field "status" of "worker-api" "/health" is "healthy"
    And "worker-api" answers GET "/api/items" with status 200

  @smoke @critical
  Scenario: Database connectivity tests
    Then the JSON field "status" of "worker-api" "/health/db" is "healthy"

  @smoke @critical
  Scenario: BaseWorker functionality
    Then "base-worker" answers GET "/health" with status 200
    And the JSON field "status" of "base-worker" "/health" is "healthy"

  @smoke
  Scenario: External service integration
    Then the JSON field "status" of "worker-api" "/api/health/external-apis" is "healthy"

  @manual
  Scenario: End-to-end document processing pipeline
    Then a person has confirmed this item

  # --- Step 5: start monitoring ----------------------------------------------------------------

  @smoke
  Scenario: Metrics collection and health monitoring are running
    Then Prometheus scrapes "worker-api" within 30 seconds
    And Prometheus scrapes "base-worker" within 30 seconds
    And the metric "http_requests_total" of "worker-api" is reported within 30 seconds

  # --- Step 7: health check and baseline comparison --------------------------------------------

  @slo @critical
  Scenario: All services are running and error rates are minimal
    Then all containers are running and healthy
    And while the load profile "users" runs, the error rate of "worker-api" stays below 1% for 20 seconds
    And no alert is firing for "worker-api"

  @slo @critical
  Scenario: Performance metrics are within acceptable ranges
    Then while the load profile "users" runs, the p95 latency of "worker-api" stays below 1000 ms for 20 seconds

  @slo
  Scenario: Resource usage is optimal
    Then every container of "worker-api" uses less than 512 MB of memory
    And every container of "base-worker" uses less than 512 MB of memory

  @slo
  Scenario: Baseline comparison against the local environment
    Then while the load profile "users" runs, the error rate of version "1.1.0" of "worker-api" is within 10% of the recorded baseline
    And while the load profile "users" runs, the p95 latency of version "1.1.0" of "worker-api" is within 50% of the recorded baseline

  @load @critical
  Scenario: Performance baseline tests
    When the load profile "baseline" runs
    Then the load stage passed its thresholds

  @load
  Scenario: The team is told the deployment is done
    Then the team is notified in "#worker-refactor-alerts" that "worker refactor deployed and validated"

  # --- Rollback validation ---------------------------------------------------------------------

  @post-rollback @critical
  Scenario: Rollback validation - services running, smoke tests, monitoring, data integrity
    Then "worker-api" serves the previous version within 60 seconds
    And "base-worker" serves the previous version within 60 seconds
    And "worker-api" answers GET "/health" with status 200
    And Prometheus scrapes "worker-api" within 30 seconds
    And no data written before the release is lost
