"""Deployment targets: one module per backend behind ``checks.deploy.targets.base.Target``.

``base`` (the interface, the registry by kind), ``slots`` (blue/green slots), ``containers`` (what
docker and compose share), ``docker``, ``compose``, ``kubernetes``, ``host``.
"""

from releasegate.checks.deploy.targets.base import (
    BACKENDS,
    Target,
    backend_class,
    get_target,
    target_from_record,
)

__all__ = ["BACKENDS", "Target", "backend_class", "get_target", "target_from_record"]
