"""The runbook: one YAML file per environment, validated against a typed model.

``load_runbook`` reads, resolves and validates one file (every problem one line: file, line,
field); ``Runbook.lookup(section, name)`` finds a named entry or raises ``NotInRunbook`` with the
names the section has.
"""

from releasegate.checks.errors import NotInRunbook
from releasegate.checks.runbook.loader import available_environments, load_runbook, runbook_path
from releasegate.checks.runbook.model import (
    Backup,
    Database,
    Deploy,
    HostCommand,
    LoadEndpoint,
    LoadProfile,
    LoadStage,
    LoadThresholds,
    Migrations,
    Notifications,
    Prometheus,
    Release,
    Rollback,
    RollbackCommand,
    Router,
    Runbook,
    Service,
    Slo,
    SloMetric,
    Target,
)
from releasegate.checks.runbook.options import (
    ROUTER_OPTIONS,
    TARGET_OPTIONS,
    ComposeOptions,
    DockerOptions,
    HostOptions,
    KubernetesOptions,
    NginxOptions,
    NoRouterOptions,
)
from releasegate.checks.runbook.stack import LocalStack, StackSection

__all__ = [
    "ROUTER_OPTIONS",
    "TARGET_OPTIONS",
    "Backup",
    "ComposeOptions",
    "Database",
    "Deploy",
    "DockerOptions",
    "HostCommand",
    "HostOptions",
    "KubernetesOptions",
    "LoadEndpoint",
    "LoadProfile",
    "LoadStage",
    "LoadThresholds",
    "LocalStack",
    "Migrations",
    "NginxOptions",
    "NoRouterOptions",
    "NotInRunbook",
    "Notifications",
    "Prometheus",
    "Release",
    "Rollback",
    "RollbackCommand",
    "Router",
    "Runbook",
    "Service",
    "Slo",
    "SloMetric",
    "StackSection",
    "Target",
    "available_environments",
    "load_runbook",
    "runbook_path",
]
