"""The demo's settings: the version tag selects the release, the fault and the revision it needs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "demo"))

from demo_service.config import ALIASES, load_settings


@pytest.mark.parametrize(
    ("tag", "release", "fault", "revision"),
    [
        ("1.0.0", "1.0.0", None, "0002"),
        ("1.1.0", "1.1.0", None, "0003"),
        ("1.1.0-errors", "1.1.0", "errors", "0003"),
        ("1.1.0-badmigration", "1.1.0", "badmigration", "0003"),
    ],
)
def test_version_tag_selects_release_fault_and_revision(
    tag: str, release: str, fault: str | None, revision: str
) -> None:
    settings = load_settings({"APP_VERSION": tag, "PORT": "18001"})
    assert (settings.release, settings.fault, settings.required_revision, settings.port) == (
        release,
        fault,
        revision,
        18001,
    )


def test_unknown_build_is_refused_with_one_line() -> None:
    with pytest.raises(SystemExit, match=r"unknown build 'typo'; expected one of errors, slow, crash, badmigration"):
        load_settings({"APP_VERSION": "1.1.0-typo"})


def test_aliases_are_configurable() -> None:
    assert load_settings({}).aliases == ALIASES
    assert load_settings({"HEALTH_ALIASES": ""}).aliases == ()
    assert load_settings({"HEALTH_ALIASES": "/api/health, /health/ai"}).aliases == ("/api/health", "/health/ai")
    with pytest.raises(SystemExit, match="HEALTH_ALIASES: unknown alias '/nope'"):
        load_settings({"HEALTH_ALIASES": "/nope"})
