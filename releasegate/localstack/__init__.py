"""The local stack: what ``--env local`` deploys to, all on 127.0.0.1; the library never imports it.

    component        module           where                                   state (under the root, .stack/)
    Docker engine    dockerd          Debian's dockerd, the local socket      dockerd.log; started, never stopped
    PostgreSQL       postgres         127.0.0.1:55432, database ``demo``      pg/ (PostgresCluster)
                     database         the demo database, its three roles and their grants
    Prometheus       prometheus       127.0.0.1:19090, scrapes every 1s       prometheus/ (prometheus_rules.yml)
    router (nginx)   router           127.0.0.1:8080                          nginx/ (the library's nginx Router)
    images           images           releasegate-base, releasegate-demo:*    images/
    demo instances   instances        containers on ports 18001-18019, host networking, labelled for Prometheus
    webhook sink     webhook_sink     a stand-in chat webhook for the seed runbooks (its own command)

``config.StackConfig`` reads it all from a runbook (``runbooks/local.yaml``); ``stack`` brings the
components up, down, reports their status and resets the environment a release starts from;
``cli`` is ``python -m releasegate.localstack`` (``scripts/local-stack``). plugins/stack.py is the
only plugin that imports this package (tests/test_layout.py checks it).
"""

from releasegate.localstack.component import ComponentStatus
from releasegate.localstack.config import LOCAL_RUNBOOK, DbRole, StackConfig
from releasegate.localstack.host import host_problems
from releasegate.localstack.instances import instance_labels
from releasegate.localstack.stack import down, reset, status, up

__all__ = [
    "LOCAL_RUNBOOK",
    "ComponentStatus",
    "DbRole",
    "StackConfig",
    "down",
    "host_problems",
    "instance_labels",
    "reset",
    "status",
    "up",
]
