"""Private support of the library: what more than one package needs, written once.

http (the one HTTP client: httpx, connection retries in the transport), docker (the one Docker
client factory), hosts (testinfra hosts: the one ``get_host``), processes (psutil), retry (a check
again until it passes, "within N seconds"), paths (the package and the checkout it runs from).
"""

from releasegate.checks._support import docker, hosts, http, paths, processes, retry

__all__ = ["docker", "hosts", "http", "paths", "processes", "retry"]
