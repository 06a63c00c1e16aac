Feature: Install a version of every service (the baseline a release starts from)
  A first installation on an empty target, for example the previous version that the examples of
  features/examples/ release from and roll back to:
    pytest features/install.feature --env seed-003-ontology-download --release 1.0.0
  No prober judgement: on an empty target nothing served before, so there is nothing to keep up.

  @migrate @critical
  Scenario: The database is at the schema the version needs
    When the migrations are applied

  @deploy @critical
  Scenario: Every service is installed at the given version
    When the release is deployed
    Then every service serves the release version within 60 seconds
    And all containers are running and healthy
