"""The deploy stage.

- ``targets``: where services run (docker, compose, kubernetes, host) behind the ``Target`` base,
  found by kind (``targets.base.get_target``);
- ``strategies``: recreate, rolling, blue-green, canary behind the ``Strategy`` protocol, each with
  its undo (``strategies.deploy``, ``strategies.rollback``);
- ``routers``: nginx and none behind the ``TrafficRouter`` protocol;
- ``record``: the one ``DeploymentRecord`` a journal keeps;
- ``prober``: steady requests through the router while something changes;
- ``observe``: what the deploy steps call (services in order under the prober, switch, restore);
- ``logs``, ``resources``: a service's logs and resource usage, read through its target.
"""
