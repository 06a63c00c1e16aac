"""The local stack: what --env local deploys to, all on 127.0.0.1; the library never imports it.

dockerd, PostgreSQL, Prometheus, nginx, the demo images and a webhook sink.
"""
