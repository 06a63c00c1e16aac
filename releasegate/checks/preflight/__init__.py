"""Preflight checks, all read-only.

One module per kind of check, each a set of ``check_*`` functions returning a ``CheckResult``:
envvars (environment variables and dotenv files), files (present and parseable), tools (installed at
a minimum version), host (CPU, memory, disk through testinfra), net (TCP, DNS, the Docker daemon),
tls (certificates), http (status, JSON fields, response time, CORS, security headers), commands
(the runbook's named host commands).
"""

from releasegate.checks.preflight import commands, envvars, files, host, http, net, tls, tools
from releasegate.checks.preflight.commands import Resolved
from releasegate.checks.preflight.envvars import Variables
from releasegate.checks.preflight.tools import Runner

__all__ = ["Resolved", "Runner", "Variables", "commands", "envvars", "files", "host", "http", "net", "tls", "tools"]
