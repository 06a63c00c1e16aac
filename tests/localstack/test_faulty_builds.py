"""Each faulty build of 1.1.0 really misbehaves the way its tag says (on the real stack)."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from support.stack import Demo, prometheus_query, wait_for

from releasegate.localstack import StackConfig

pytestmark = pytest.mark.e2e

ERRORS_PORT, SLOW_PORT, CRASH_PORT, GOOD_PORT = 18011, 18012, 18013, 18014


def test_errors_build_answers_5xx_to_at_least_10_percent_and_fires_the_alert(
    stack: StackConfig, demo: Demo, http: httpx.Client
) -> None:
    assert demo.migrate("1.1.0-errors")[0] == 0
    instance = demo.start("1.1.0-errors", ERRORS_PORT)
    demo.wait_healthy(instance)  # healthy: the fault is in the API, as in a real bad release
    statuses = [http.get(f"{instance.url}/api/items").status_code for _ in range(100)]
    ratio = sum(s >= 500 for s in statuses) / len(statuses)
    assert ratio >= 0.10, f"5xx ratio {ratio:.2f} over {len(statuses)} requests"
    assert set(statuses) <= {200, 500}

    # Prometheus's HighErrorRate rule (the seeds' >5% 5xx) fires for it while traffic flows.
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                client.get(f"{instance.url}/api/items")
                time.sleep(0.05)

    worker = threading.Thread(target=traffic, daemon=True)
    worker.start()
    try:
        firing = wait_for(
            lambda: [
                a
                for a in prometheus_query(stack, 'ALERTS{alertname="HighErrorRate", alertstate="firing"}')
                if a["metric"].get("version") == "1.1.0-errors"
            ],
            timeout_s=40,
        )
    finally:
        stop.set()
        worker.join(timeout=10)
    assert firing, "HighErrorRate did not fire for 1.1.0-errors"


def test_slow_build_has_p95_latency_of_at_least_1_5_s(demo: Demo) -> None:
    assert demo.migrate("1.1.0-slow")[0] == 0
    instance = demo.start("1.1.0-slow", SLOW_PORT)
    demo.wait_healthy(instance)

    def timed(_: int) -> float:
        started = time.perf_counter()
        response = httpx.get(f"{instance.url}/api/items", timeout=10)
        assert response.status_code == 200
        return time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=20) as pool:
        durations = sorted(pool.map(timed, range(20)))
    p95 = statistics.quantiles(durations, n=20)[-1]
    assert p95 >= 1.5, f"p95 {p95:.2f}s"


def test_crash_build_never_becomes_healthy(demo: Demo) -> None:
    assert demo.migrate("1.1.0-crash")[0] == 0
    instance = demo.start("1.1.0-crash", CRASH_PORT)
    seen: set[str] = set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        seen.add(instance.health_status())
        time.sleep(0.25)
    assert "healthy" not in seen, seen
    instance.container.reload()
    assert instance.container.status == "exited"
    assert instance.container.attrs["State"]["ExitCode"] != 0
    assert "injected start-up crash" in instance.container.logs().decode()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{instance.url}/health", timeout=2)


def test_badmigration_fails_halfway_and_leaves_the_database_at_0002(demo: Demo, http: httpx.Client) -> None:
    assert demo.migrate("1.0.0")[0] == 0
    with psycopg.connect(demo.app_dsn) as conn:
        conn.execute("INSERT INTO items (name, created_by_version) VALUES ('kept', '1.0.0')")

    code, output = demo.migrate("1.1.0-badmigration")
    assert code != 0
    assert "FAILED" in output and "owner_id" in output, output

    with psycopg.connect(demo.owner_dsn) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0002",)
        columns = {
            r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'items'")
        }
        assert "description" not in columns, "the first half of the failed migration was not rolled back"
        assert conn.execute("SELECT name FROM items").fetchall() == [("kept",)]

    # 1.0.0 still serves on the untouched database; the bad build refuses to be ready on it.
    good = demo.start("1.0.0", GOOD_PORT)
    demo.wait_healthy(good)
    assert http.get(f"{good.url}/ready").json()["revision"] == "0002"
    assert [i["name"] for i in http.get(f"{good.url}/api/items").json()["items"]] == ["kept"]
    bad = demo.start("1.1.0-badmigration", CRASH_PORT)
    demo.wait_healthy(bad)
    ready = http.get(f"{bad.url}/ready")
    assert ready.status_code == 503 and "needs 0003" in ready.json()["reason"]
