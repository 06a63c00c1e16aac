"""Deployment targets: one module per backend behind ``checks.targets.base.Target``."""
