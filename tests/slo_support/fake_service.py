"""Moved to ``support.fake_service``."""

from support.fake_service import FakeService

__all__ = ["FakeService"]
