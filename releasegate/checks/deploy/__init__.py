"""The deploy stage.

targets (docker, compose, kubernetes, host), strategies, traffic routers, the prober, deployment
records.
"""
