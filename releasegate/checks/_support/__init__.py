"""Private support of the library: what more than one package needs, written once.

http (the one HTTP client: httpx, connection retries in the transport), docker (the one Docker
client factory), hosts (testinfra hosts: the one ``get_host``), processes (psutil), retry (a check
again until it passes, "within N seconds"), paths (the package and the checkout it runs from),
shell (runbook shell templates: every value quoted in with ``shlex.quote``), files (UTF-8 reads,
strict YAML with line numbers, writable output files).
"""

from releasegate.checks._support import docker, files, hosts, http, paths, processes, retry, shell

__all__ = ["docker", "files", "hosts", "http", "paths", "processes", "retry", "shell"]
