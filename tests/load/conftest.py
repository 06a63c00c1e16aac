"""nginx (``support.slo_stack``), a slow fake service and a folder for each run's files, for the load tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fake_service import FakeService
from support.slo_stack import nginx, workdir  # noqa: F401  (nginx: a fixture)


@pytest.fixture
def slow_service() -> Iterator[FakeService]:
    service = FakeService("1.1.0-slow", latency_s=0.15).start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def out_dir() -> Iterator[Path]:
    path = workdir("load")
    yield path
    shutil.rmtree(path, ignore_errors=True)
