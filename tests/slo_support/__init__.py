"""Moved to tests/support (``support.fake_service``, ``support.slo_servers``); these modules re-export them
for tests/analysis/test_demo_builds.py and tests/seeds/test_operations.py until those import support.*."""
