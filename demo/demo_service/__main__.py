"""Command line: ``python -m demo_service serve|migrate|revision|healthcheck``.

serve        run the HTTP server on $PORT (the image's default command)
migrate      ``alembic upgrade head`` against $DATABASE_URL with the migrations this image ships
sql RANGE    print the SQL of ``alembic upgrade RANGE`` (offline mode: ``0002:head``), connecting to nothing
revision     print the database's current alembic revision
healthcheck  exit 0 when GET /health on $PORT answers 200 (the image's HEALTHCHECK)
"""

from __future__ import annotations

import sys
import time
import urllib.request
from pathlib import Path

from demo_service.config import load_settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def serve() -> int:
    settings = load_settings()
    if settings.fault == "crash":
        # The crash build dies during start-up, as a build with a broken import or config would.
        print(f"demo {settings.version}: fatal: injected start-up crash (1.1.0-crash build)", file=sys.stderr)
        time.sleep(0.5)
        return 3
    import uvicorn

    from demo_service.app import create_app

    print(f"demo {settings.version}: listening on 0.0.0.0:{settings.port}", file=sys.stderr)
    uvicorn.run(create_app(settings), host="0.0.0.0", port=settings.port, log_level="warning", access_log=False)
    return 0


def _alembic_config() -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate() -> int:
    from alembic import command

    settings = load_settings()
    if not settings.database_url:
        print("migrate: DATABASE_URL is not set", file=sys.stderr)
        return 2
    try:
        command.upgrade(_alembic_config(), "head")  # type: ignore[arg-type]
    except Exception as exc:
        print(f"migrate: FAILED: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    print(f"migrate: database at head for {settings.version}")
    return 0


def sql() -> int:
    """The SQL that ``migrate`` would run from one revision to another (releasegate lints it before a release)."""
    from alembic import command

    if len(sys.argv) != 3:
        print("usage: python -m demo_service sql FROM:TO (for example 0002:head, or head from an empty database)",
              file=sys.stderr)
        return 2
    command.upgrade(_alembic_config(), sys.argv[2], sql=True)  # type: ignore[arg-type]
    return 0


def revision() -> int:
    from demo_service import db

    print(db.current_revision(db.make_engine(load_settings().database_url)) or "none")
    return 0


def healthcheck() -> int:
    port = load_settings().port
    try:
        # the platform's probe, not a user: labelled so that SLO queries leave it out (app.py)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/health",
                                         headers={"X-Releasegate-Synthetic": "healthcheck"})
        with urllib.request.urlopen(request, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


COMMANDS = {"serve": serve, "migrate": migrate, "sql": sql, "revision": revision, "healthcheck": healthcheck}

if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if name not in COMMANDS:
        print(f"usage: python -m demo_service {{{'|'.join(COMMANDS)}}}", file=sys.stderr)
        sys.exit(2)
    sys.exit(COMMANDS[name]())
