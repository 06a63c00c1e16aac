"""Settings read from the environment, and what the version tag says about the build.

APP_VERSION is the image tag: ``1.0.0``, ``1.1.0`` or a faulty build of 1.1.0 such as
``1.1.0-errors``. The part after the dash selects the fault; the part before it selects the
database revision the build needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

FAULTS = ("errors", "slow", "crash", "badmigration")

# The alembic revision each release needs (the newest migration its image ships).
REQUIRED_REVISION = {"1.0.0": "0002", "1.1.0": "0003"}

ALIASES = (
    "/api/health",
    "/api/version",
    "/api/health/database",
    "/api/health/cache",
    "/api/health/external-apis",
    "/health/ai",
    "/health/projections",
)


@dataclass(frozen=True)
class Settings:
    version: str
    release: str
    fault: str | None
    port: int
    database_url: str
    aliases: tuple[str, ...]
    error_rate: float
    slow_s: float
    commit: str = field(default="")

    @property
    def required_revision(self) -> str:
        return REQUIRED_REVISION.get(self.release, max(REQUIRED_REVISION.values()))


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    version = env.get("APP_VERSION", "1.0.0")
    release, _, fault = version.partition("-")
    if fault and fault not in FAULTS:
        raise SystemExit(f"APP_VERSION={version!r}: unknown build {fault!r}; expected one of {', '.join(FAULTS)}")
    aliases_env = env.get("HEALTH_ALIASES", "all").strip()
    if aliases_env == "all":
        aliases = ALIASES
    else:
        aliases = tuple(a.strip() for a in aliases_env.split(",") if a.strip())
        unknown = sorted(set(aliases) - set(ALIASES))
        if unknown:
            raise SystemExit(f"HEALTH_ALIASES: unknown alias {unknown[0]!r}; known: {', '.join(ALIASES)}")
    return Settings(
        version=version,
        release=release,
        fault=fault or None,
        port=int(env.get("PORT", "8000")),
        database_url=env.get("DATABASE_URL", ""),
        aliases=aliases,
        error_rate=float(env.get("FAULT_ERROR_RATE", "0.2")),
        slow_s=float(env.get("FAULT_SLOW_S", "1.7")),
        commit=env.get("APP_COMMIT", ""),
    )
