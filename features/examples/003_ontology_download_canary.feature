Feature: OntologyDownload - canary deployment (seed 003, canary section)
  Gradually shift traffic to the new version (5% -> 25% -> 50% -> 100%); between steps the SLO
  analysis of the runbook (success rate at least 99.5%, error rate below 1%) gates the next step,
  and a failed gate sets the canary's weight to 0 and rolls back. The runbook's deploy.canary.load
  runs the "users" load profile through the router for the whole canary: each gate judges the
  canary version's share of the users' traffic, never releasegate's own prober.
  Runbook: runbooks/seed-003-ontology-download.yaml (slo: the canary-config.yml thresholds).

  @preflight @critical
  Scenario: Canary - the current version is healthy before the canary starts
    Given the image for the release exists
    Then "ontology-download" answers GET "/health" with status 200
    And Prometheus scrapes "ontology-download"

  @deploy @critical
  Scenario: Canary - start and progression 5% -> 25% -> 50% -> 100%
    When the canary advances through 5, 25, 50, 100 percent
    Then "ontology-download" serves the release version within 30 seconds
    And no request failed during the canary

  @slo @critical
  Scenario: Canary - success threshold 99.5% and error rate threshold 1%
    Then while the load profile "users" runs, the success rate of "ontology-download" stays at least 99.5% for 20 seconds
    And while the load profile "users" runs, the error rate of "ontology-download" stays below 1% for 20 seconds

  @post-rollback @critical
  Scenario: Canary - rollback leaves the previous version serving all traffic
    Then "ontology-download" serves the previous version within 60 seconds
    And "ontology-download" answers GET "/health" with status 200
