"""The HTTP API: health, readiness, version, metrics, a small items CRUD and the seeds' aliases.

Every request is counted with a ``synthetic`` label: ``false`` for a request without the
``X-Releasegate-Synthetic`` header (a user's), else the header's kind (``prober``, ``load``, the image's
``healthcheck``; any other value is ``other``), so SLO queries can leave releasegate's own probes out.

Faulty builds (see config.py) misbehave here: ``errors`` answers 5xx to a fixed share of API
requests, ``slow`` delays every request except /metrics, ``crash`` never gets this far (see
__main__.py), ``badmigration`` ships a migration that fails (see migrations/faulty/).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from demo_service import db
from demo_service.config import Settings

SYNTHETIC_KINDS = ("prober", "load", "healthcheck")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0)
STARTED = time.time()
disable_created_metrics()


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class _ErrorBudget:
    """Fails exactly ``rate`` of the requests it sees, spread evenly (deterministic, thread-safe)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.seen = 0
        self.failed = 0
        self.lock = threading.Lock()

    def should_fail(self) -> bool:
        with self.lock:
            self.seen += 1
            if self.failed < int(self.seen * self.rate):
                self.failed += 1
                return True
            return False


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="releasegate demo", version=settings.version)
    engine = db.make_engine(settings.database_url) if settings.database_url else None
    registry = CollectorRegistry()
    requests_total = Counter(
        "http_requests_total", "HTTP requests", ["status", "method", "path", "version", "synthetic"],
        registry=registry,
    )
    duration = Histogram(
        "http_request_duration_seconds",
        "HTTP request duration",
        ["method", "path", "version", "synthetic"],
        buckets=BUCKETS,
        registry=registry,
    )
    info = Gauge("app_info", "The build this process serves", ["version", "release", "fault"], registry=registry)
    info.labels(settings.version, settings.release, settings.fault or "none").set(1)
    items_gauge = Gauge("app_items_written_total", "Items created by this process", registry=registry)
    errors = _ErrorBudget(settings.error_rate)
    version = settings.version

    def now() -> str:
        return dt.datetime.now(dt.UTC).isoformat()

    def require_engine() -> Any:
        if engine is None:
            raise HTTPException(status_code=503, detail="DATABASE_URL is not set")
        return engine

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        path = request.url.path
        if settings.fault == "slow" and path != "/metrics":
            await asyncio.sleep(settings.slow_s)
        if settings.fault == "errors" and path.startswith("/api/items") and errors.should_fail():
            response: Response = JSONResponse({"error": "injected fault (1.1.0-errors build)"}, status_code=500)
        else:
            try:
                response = await call_next(request)
            except Exception:  # an unhandled error is a 500 that must be counted, not lost
                response = JSONResponse({"error": "internal error"}, status_code=500)
        route = request.scope.get("route")
        label = getattr(route, "path", None) or ("unmatched" if response.status_code == 404 else path)
        if path != "/metrics":
            elapsed = time.perf_counter() - started
            kind = synthetic(request.headers.get("x-releasegate-synthetic"))
            requests_total.labels(str(response.status_code), request.method, label, version, kind).inc()
            duration.labels(request.method, label, version, kind).observe(elapsed)
        response.headers["X-App-Version"] = version
        return response

    def health_body() -> dict[str, Any]:
        return {
            "status": "healthy",
            "timestamp": now(),
            "version": version,
            "uptime_s": round(time.time() - STARTED, 3),
        }

    def version_body() -> dict[str, Any]:
        return {
            "version": version,
            "release": settings.release,
            "build": settings.fault or "good",
            "commit": settings.commit,
            "required_revision": settings.required_revision,
        }

    def database_body() -> tuple[int, dict[str, Any]]:
        if engine is None:
            return 503, {"status": "unhealthy", "error": "DATABASE_URL is not set", "version": version}
        try:
            latency = db.ping(engine)
            revision = db.current_revision(engine)
        except SQLAlchemyError as exc:
            return 503, {"status": "unhealthy", "error": type(exc).__name__, "version": version}
        return 200, {
            "status": "healthy",
            "latency_ms": round(latency * 1000, 2),
            "revision": revision,
            "required_revision": settings.required_revision,
            "version": version,
        }

    @app.get("/health")
    def health() -> dict[str, Any]:
        return health_body()

    @app.get("/version")
    def version_endpoint() -> dict[str, Any]:
        return version_body()

    @app.get("/health/db")
    def health_db() -> JSONResponse:
        status, body = database_body()
        return JSONResponse(body, status_code=status)

    @app.get("/ready")
    def ready() -> JSONResponse:
        status, body = database_body()
        if status != 200:
            return JSONResponse({"status": "not ready", "reason": body.get("error"), "version": version}, 503)
        revision = body["revision"]
        if revision is None or revision < settings.required_revision:
            reason = f"database at revision {revision}, this build needs {settings.required_revision}"
            return JSONResponse({"status": "not ready", "reason": reason, "version": version}, 503)
        return JSONResponse({"status": "ready", "revision": revision, "version": version})

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    def columns() -> str:
        base = "id, name, created_at, created_by_version"
        return base + (", description" if settings.release != "1.0.0" else "")

    @app.post("/api/items", status_code=201)
    def create_item(item: ItemIn) -> dict[str, Any]:
        eng = require_engine()
        fields = {"name": item.name, "v": version}
        if settings.release == "1.0.0":
            sql = "INSERT INTO items (name, created_by_version) VALUES (:name, :v)"
        else:
            sql = "INSERT INTO items (name, created_by_version, description) VALUES (:name, :v, :d)"
            fields["d"] = item.description  # type: ignore[assignment]
        with eng.begin() as conn:
            row = conn.execute(text(f"{sql} RETURNING {columns()}"), fields).one()
        items_gauge.inc()
        return _jsonable(dict(row._mapping))

    @app.get("/api/items")
    def list_items(limit: int = 1000, offset: int = 0) -> dict[str, Any]:
        eng = require_engine()
        with eng.connect() as conn:
            result = conn.execute(
                text(f"SELECT {columns()} FROM items ORDER BY id LIMIT :limit OFFSET :offset"),
                {"limit": max(1, min(limit, 10000)), "offset": max(0, offset)},
            )
            found = [_jsonable(r) for r in db.rows(result)]
            total = conn.execute(text("SELECT count(*) FROM items")).scalar()
        return {"items": found, "count": len(found), "total": total, "version": version}

    @app.get("/api/items/{item_id}")
    def get_item(item_id: int) -> dict[str, Any]:
        eng = require_engine()
        with eng.connect() as conn:
            row = conn.execute(text(f"SELECT {columns()} FROM items WHERE id = :id"), {"id": item_id}).first()
        if row is None:
            raise HTTPException(status_code=404, detail=f"no item {item_id}")
        return _jsonable(dict(row._mapping))

    @app.delete("/api/items/{item_id}", status_code=204)
    def delete_item(item_id: int) -> Response:
        eng = require_engine()
        with eng.begin() as conn:
            deleted = conn.execute(text("DELETE FROM items WHERE id = :id"), {"id": item_id}).rowcount
        if not deleted:
            raise HTTPException(status_code=404, detail=f"no item {item_id}")
        return Response(status_code=204)

    _add_aliases(app, settings, health_body, version_body, database_body)
    return app


def _add_aliases(
    app: FastAPI,
    settings: Settings,
    health_body: Callable[[], dict[str, Any]],
    version_body: Callable[[], dict[str, Any]],
    database_body: Callable[[], tuple[int, dict[str, Any]]],
) -> None:
    """The endpoint names the seed runbooks use, answered from the same data."""
    version = settings.version

    def database() -> JSONResponse:
        status, body = database_body()
        return JSONResponse(body, status_code=status)

    handlers: dict[str, Callable[[], Any]] = {
        "/api/health": health_body,
        "/api/version": version_body,
        "/api/health/database": database,
        "/api/health/cache": lambda: {
            "status": "healthy",
            "hit_rate": 1.0,
            "backend": "in-process",
            "version": version,
        },
        "/api/health/external-apis": lambda: {"status": "healthy", "apis": {}, "version": version},
        "/health/ai": lambda: {"status": "healthy", "providers": [], "version": version},
        "/health/projections": lambda: {
            "status": "healthy",
            "projections": [{"name": "items", "status": "healthy", "lag": 0}],
            "version": version,
        },
    }
    for path in settings.aliases:
        app.add_api_route(path, handlers[path], methods=["GET"])


def synthetic(header: str | None) -> str:
    """The ``synthetic`` label of a request: ``false`` without the header, else one of a fixed set of kinds."""
    if header is None:
        return "false"
    kind = header.strip().lower()
    return kind if kind in SYNTHETIC_KINDS else "other"


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in row.items()}
