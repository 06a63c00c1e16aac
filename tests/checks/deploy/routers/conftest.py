"""The nginx router tests' fixtures: the two backends, and a real nginx router of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.routers import BLUE, GREEN, LISTEN, server

from releasegate.checks.deploy.routers.nginx import Router


@pytest.fixture(scope="module")
def backends() -> Iterator[None]:
    servers = [server(BLUE, "blue"), server(GREEN, "green")]
    yield
    for started in servers:
        started.shutdown()
        started.server_close()


@pytest.fixture
def router(tmp_path: Path, backends: None) -> Iterator[Router]:
    """nginx in ``<tmp>/nginx`` on LISTEN; stopped after the test with any worker a killed master left."""
    r = Router(root=tmp_path / "nginx", listen=LISTEN)
    r.start()
    yield r
    r.stop()
    assert not r.running()
    assert r.processes().orphans == []
