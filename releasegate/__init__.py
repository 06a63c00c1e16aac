"""releasegate: executable, auditable release runbooks."""
