"""Traffic routers behind one interface (``TrafficRouter``): set weights, verify them, remove routes.

One module per router (``nginx``, ``none``), found by kind through ``ROUTERS``; ``make_router``
builds the one a deployment record or ``router_settings`` describes.
"""

from releasegate.checks.deploy.routers.base import (
    ROUTERS,
    RouterSettings,
    TrafficRouter,
    make_router,
    router_class,
    router_settings,
)

__all__ = ["ROUTERS", "RouterSettings", "TrafficRouter", "make_router", "router_class", "router_settings"]
