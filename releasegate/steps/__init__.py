"""Step definitions, grouped by domain. Every module here is loaded as a plugin by the root conftest."""
