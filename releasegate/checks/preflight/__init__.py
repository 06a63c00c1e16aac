"""Preflight checks, all read-only.

environment variables, files, tools, host resources, network, TLS, HTTP endpoints, host commands.
"""
