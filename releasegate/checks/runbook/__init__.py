"""The runbook: one YAML file per environment, validated against a typed model."""
