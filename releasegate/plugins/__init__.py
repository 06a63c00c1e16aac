"""pytest plugins of releasegate, one concern each, registered from the root conftest."""
