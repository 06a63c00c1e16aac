"""nginx (static content and an endpoint that always fails) and a slow fake service, for the load tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.slo_support.fake_service import FakeService
from tests.slo_support.servers import NginxServer

BASE = Path("/tmp/releasegate-slo")


@pytest.fixture(scope="module")
def nginx() -> Iterator[NginxServer]:
    BASE.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="nginx-", dir=BASE))
    server = NginxServer(workdir).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def slow_service() -> Iterator[FakeService]:
    service = FakeService("1.1.0-slow", latency_s=0.15).start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def out_dir() -> Iterator[Path]:
    BASE.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="load-", dir=BASE))
    yield path
    shutil.rmtree(path, ignore_errors=True)
