"""Fixtures of the local-stack tests: the real stack (plugins/stack.py), demo containers, databases.

The stack is shared by the whole session; each test gets its own database (created with the
stack's least-privilege grants) and its own containers on ports that the local runbook's deploy
target does not use (18001/18002 belong to the release feature), removed at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.stack import TEST_PREFIX, Demo

from releasegate.checks._support.docker import docker_client as engine
from releasegate.checks.deploy.routers.nginx import Router
from releasegate.localstack import StackConfig, database
from releasegate.localstack import router as stack_router


@pytest.fixture(scope="session")
def stack(local_stack: StackConfig | None) -> StackConfig:
    assert local_stack is not None, "runbooks/local.yaml has no stack: section"
    return local_stack


@pytest.fixture(scope="session")
def docker_client(stack: StackConfig) -> Iterator[Any]:
    client = engine(timeout=60)
    for leftover in client.containers.list(all=True, filters={"name": TEST_PREFIX}):
        leftover.remove(force=True)
    yield client
    client.close()


@pytest.fixture
def demo(stack: StackConfig, docker_client: Any) -> Iterator[Demo]:
    name = f"e2e_{uuid.uuid4().hex[:10]}"
    database.prepare(stack, name)
    helper = Demo(stack, docker_client, name)
    yield helper
    helper.stop_all()
    database.drop(stack, name)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def router(stack: StackConfig) -> Iterator[Router]:
    """The stack's router; its weights and colours are put back as they were after the test."""
    shared = stack_router.router(stack)
    weights, colors = shared.weights(), shared.colors()
    yield shared
    if weights:
        shared.set_weights(weights, colors=colors)
