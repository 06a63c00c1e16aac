Feature: Investment Analysis Platform - production deployment (seed 002)
  Cost-optimized production deployment: infrastructure readiness, configuration, code quality,
  blue-green deployment of the backend then the frontend, database migrations with a backup,
  post-deployment health, performance and functional checks, alert thresholds, and rollback with
  database restoration and version verification.
  Runbook: runbooks/seed-002-investment.yaml.

  # --- Infrastructure Readiness: Server Resources ----------------------------------------------

  @preflight @critical
  Scenario: Server Resources - CPU, RAM and storage minimums
    Then the host has at least 2 CPU cores
    And the host has at least 4 GB of memory
    And the host has at least 20 GB free disk at "/"

  @preflight @manual
  Scenario: Network - 1Gbps bandwidth minimum
    Then a person has confirmed this item

  # --- Infrastructure Readiness: Docker Environment --------------------------------------------

  @preflight @critical
  Scenario: Docker Engine 20.10+ installed, daemon running and accessible
    Then the Docker daemon is reachable at version 20.10 or later
    And "docker" is installed at version 20.10 or later

  @preflight @critical
  Scenario: Docker Compose 2.0+ installed
    Then "docker compose" is installed at version 2.0 or later

  @preflight @critical
  Scenario: Sufficient disk space for images (10GB minimum)
    Then the Docker daemon has at least 10 GB free disk for images

  # --- Infrastructure Readiness: Database Preparation ------------------------------------------

  @preflight @critical
  Scenario: PostgreSQL connection tested and database credentials correct
    Then the database accepts connections
    And the database server is at version 14 or later

  @preflight @critical
  Scenario: TimescaleDB extension available
    Then the database has the extension "timescaledb" available

  @migrate @critical
  Scenario: Database migration scripts ready
    Then the migrations are reversible

  # --- Configuration Verification --------------------------------------------------------------

  @preflight @critical
  Scenario: Environment Variables - .env populated with production values
    Given the environment variables are read from the dotenv file "runbooks/seed-files/002/.env"
    Then the dotenv file "runbooks/seed-files/002/.env" defines "DATABASE_URL, REDIS_URL, SECRET_KEY, JWT_SECRET_KEY, ALPHA_VANTAGE_API_KEY, FINNHUB_API_KEY, POLYGON_API_KEY, NEWS_API_KEY"
    And the environment variable "DATABASE_URL" is a PostgreSQL DSN
    And the environment variable "ENVIRONMENT" is one of "production"

  @preflight @critical
  Scenario: Secret keys generated and secure
    Given the environment variables are read from the dotenv file "runbooks/seed-files/002/.env"
    Then the environment variables "SECRET_KEY, JWT_SECRET_KEY" are set and not placeholders

  @preflight @manual
  Scenario: API keys valid and within rate limits
    Then a person has confirmed this item

  @preflight @manual
  Scenario: Alpha Vantage API key tested (25 calls/day limit)
    Then a person has confirmed this item

  @preflight @manual
  Scenario: Finnhub API key tested (60 calls/minute limit)
    Then a person has confirmed this item

  @preflight @manual
  Scenario: Polygon.io API key tested (5 calls/minute limit)
    Then a person has confirmed this item

  @preflight @manual
  Scenario: NewsAPI key tested and functional
    Then a person has confirmed this item

  # --- Security Configuration ------------------------------------------------------------------

  @preflight @critical
  Scenario: SSL certificates installed
    Then the certificate of "investment-backend" is valid for at least 14 days

  @preflight
  Scenario: Security headers configured
    Then "investment-backend" sends the recommended security headers

  @preflight @manual
  Scenario: Rate limiting configured
    Then a person has confirmed this item

  @preflight @manual
  Scenario: Firewall rules applied
    Then a person has confirmed this item

  # --- Code Quality Assurance ------------------------------------------------------------------

  @preflight @manual
  Scenario: Unit tests passing (>90% coverage)
    Then a person has confirmed this item

  @preflight @manual
  Scenario: Integration tests passing
    Then a person has confirmed this item

  @preflight @critical
  Scenario: Security scans completed
    Then the command "security scan" succeeds

  @preflight @manual
  Scenario: Pull request approved
    Then a person has confirmed this item

  @preflight @manual
  Scenario: Security review completed
    Then a person has confirmed this item

  @preflight @manual
  Scenario: Performance review completed
    Then a person has confirmed this item

  @manual
  Scenario: Documentation updated
    Then a person has confirmed this item

  # --- Database Migrations ---------------------------------------------------------------------

  @backup @critical
  Scenario: Create backup before migration
    Given the schema version is recorded
    When a verified backup of the database is taken
    And the data fingerprint is recorded
    Then the backup is verified

  @migrate @critical
  Scenario: Run migrations and verify migration success (alembic upgrade head, alembic current)
    When the migrations are applied
    Then no migration is pending
    And the migrations finish within 120 seconds

  # --- Deployment: Method 1, blue-green --------------------------------------------------------

  @deploy
  Scenario: Team notified
    Then the team is notified in "#investment-deployments" that "investment platform deployment starting"

  @manual
  Scenario: Deployment logs monitored
    Then a person has confirmed this item

  @deploy @critical
  Scenario: Blue-green deployment of the backend, then the frontend (health checks enabled)
    When the release is deployed
    Then every service serves the release version within 30 seconds
    And no request failed during the blue-green deployment

  # --- Post-Deployment Verification: Health Checks ---------------------------------------------

  @smoke @critical
  Scenario: Basic and detailed health check
    Then "investment-backend" answers GET "/api/health" with status 200
    And the JSON of "investment-backend" "/api/health" has the fields "status, version, timestamp"
    And the JSON field "status" of "investment-backend" "/api/health" is "healthy"

  @smoke @critical
  Scenario: Database connectivity
    Then "investment-backend" answers GET "/api/health/database" with status 200
    And the JSON field "status" of "investment-backend" "/api/health/database" is "healthy"

  @smoke @critical
  Scenario: Cache functionality
    Then "investment-backend" answers GET "/api/health/cache" with status 200

  @smoke
  Scenario: External API connectivity
    Then "investment-backend" answers GET "/api/health/external-apis" with status 200

  @smoke @critical
  Scenario: Frontend is up after the backend
    Then "investment-frontend" answers GET "/health" with status 200
    And all containers are running and healthy

  # --- Post-Deployment Verification: Performance -----------------------------------------------

  @smoke
  Scenario: Response time check
    Then "investment-backend" answers GET "/api/items" in under 1000 ms

  @smoke
  Scenario: Memory usage check (docker stats --no-stream)
    Then every container of "investment-backend" uses less than 512 MB of memory
    And every container of "investment-frontend" uses less than 512 MB of memory

  @smoke
  Scenario: Database performance
    Then the command "database performance" succeeds

  # --- Post-Deployment Verification: Functional Testing ----------------------------------------

  @smoke @critical
  Scenario: API endpoints test
    Then "investment-backend" answers GET "/api/items" with status 200
    And "investment-backend" answers GET "/api/version" with status 200

  @manual
  Scenario: WebSocket connectivity
    Then a person has confirmed this item

  @manual
  Scenario: Data pipeline verification
    Then a person has confirmed this item

  @manual
  Scenario: User authentication test
    Then a person has confirmed this item

  # --- Monitoring and Alerting: alert thresholds -----------------------------------------------

  @slo
  Scenario: Monitoring alerts configured
    Then the alert rules "HighErrorRate, HighLatencyP95, ServiceDown" are loaded
    And Prometheus scrapes "investment-backend" within 30 seconds

  @slo @critical
  Scenario: HighAPIResponseTime - p95 response time stays below 2 seconds
    Then while the load profile "users" runs, the p95 latency of "investment-backend" stays below 2000 ms for 20 seconds

  @slo @critical
  Scenario: Error rate does not increase significantly
    Then while the load profile "users" runs, the error rate of "investment-backend" stays below 5% for 20 seconds
    And no alert is firing for "investment-backend"

  @slo
  Scenario: HighCPUUsage and HighMemoryUsage - resource usage below the alert thresholds
    Then every container of "investment-backend" uses less than 80% CPU
    And every container of "investment-backend" uses less than 1024 MB of memory

  @manual
  Scenario: CostBudgetExceeded - daily cost projection below $1.67
    Then a person has confirmed this item

  @load @critical
  Scenario: Load test (basic) - ab -n 100 -c 10 /api/health
    When the load profile "ab" runs
    Then the load stage passed its thresholds

  @load
  Scenario: Success communicated
    Then the team is notified in "#investment-deployments" that "investment platform deployed and verified"

  # --- Rollback Verification -------------------------------------------------------------------

  @post-rollback @critical
  Scenario: Rollback verification - version, service status, database state, critical functionality
    Then "investment-backend" serves the previous version within 60 seconds
    And all containers are running and healthy
    And the schema version is the one recorded before the release
    And no data written before the release is lost
    And "investment-backend" answers GET "/api/items" with status 200
