"""End to end on the real local stack: 1.0.0 -> 1.1.0 through the router, and back, losing nothing."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import psycopg
import pytest
from support.stack import Demo, prometheus_query, wait_for

from releasegate.checks.deploy.routers.nginx import Router
from releasegate.localstack import StackConfig, images, up

pytestmark = pytest.mark.e2e

BLUE, GREEN = 18003, 18004


def _items(http: httpx.Client, base: str) -> list[dict[str, Any]]:
    response = http.get(f"{base}/api/items")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


class _Traffic:
    """Requests through the router in a loop, recording every status, while the test switches weights."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: list[int | str] = []
        self.versions: set[str] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set():
                try:
                    response = client.get(f"{self.url}/health")
                    self.statuses.append(response.status_code)
                    self.versions.add(response.json().get("version", "?"))
                except httpx.HTTPError as exc:
                    self.statuses.append(type(exc).__name__)
                time.sleep(0.01)

    def __enter__(self) -> _Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def test_stack_up_is_idempotent_and_fast(stack: StackConfig) -> None:
    started = time.monotonic()
    found = up(stack, log=lambda _: None)
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"up on a running stack took {elapsed:.1f}s"
    missing = [c.line() for c in found if not c.running and not c.name.startswith("instance")]
    assert not missing, missing
    assert httpx.get(f"{stack.prometheus_url}/-/ready", timeout=5).status_code == 200
    rules = httpx.get(f"{stack.prometheus_url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    names = {rule["name"] for group in rules for rule in group["rules"]}
    assert {"HighErrorRate", "HighLatencyP95", "ServiceDown"} <= names


def test_images_are_cached_non_root_and_have_a_healthcheck(stack: StackConfig, docker_client: Any) -> None:
    started = time.monotonic()
    outcomes = images.build_all(stack.image_versions, client=docker_client, log=lambda _: None)
    assert [o.image for o in outcomes if o.built] == [], "a second build rebuilt unchanged images"
    assert time.monotonic() - started < 15
    for version in stack.image_versions:
        attrs = docker_client.images.get(images.demo_image(version)).attrs["Config"]
        assert attrs["User"] == "appuser"
        assert attrs["Healthcheck"]["Test"][-1] == "healthcheck"
        assert attrs["Labels"][images.HASH_LABEL] == images.demo_input_hash(version, images.base_input_hash())
        assert f"APP_VERSION={version}" in attrs["Env"]


def test_least_privilege_roles(stack: StackConfig, demo: Demo) -> None:
    assert demo.migrate("1.0.0")[0] == 0
    readonly = stack.dsn(stack.readonly, demo.database)
    with psycopg.connect(readonly) as conn:
        conn.execute("SELECT count(*) FROM items").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO items (name) VALUES ('x')")
    with psycopg.connect(demo.app_dsn) as conn:
        conn.execute("INSERT INTO items (name) VALUES ('x')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE sneaky (id int)")


def test_release_and_rollback_through_the_router_lose_nothing(
    stack: StackConfig, demo: Demo, http: httpx.Client, router: Router
) -> None:
    base = stack.router_url

    # 1.0.0 serves from blue, on a database at revision 0002.
    code, output = demo.migrate("1.0.0")
    assert code == 0, output
    blue = demo.start("1.0.0", BLUE, "blue")
    demo.wait_healthy(blue)
    router.set_weights({blue.address: 100}, colors={"blue": blue.address})
    assert http.get(f"{base}/health").json()["version"] == "1.0.0"
    assert http.get(f"{base}/ready").json()["revision"] == "0002"
    before = [http.post(f"{base}/api/items", json={"name": f"before-{i}"}).json()["id"] for i in range(5)]

    # 1.1.0: additive migration to 0003 (1.0.0 keeps serving on it), green started, smoke-tested, switched.
    code, output = demo.migrate("1.1.0")
    assert code == 0, output
    assert http.get(f"{base}/ready").json() == {"status": "ready", "revision": "0003", "version": "1.0.0"}
    green = demo.start("1.1.0", GREEN, "green")
    demo.wait_healthy(green)
    router.set_weights({blue.address: 100, green.address: 0}, colors={"blue": blue.address, "green": green.address})
    assert http.get(f"{base}/version", headers={"X-Releasegate-Color": "green"}).json()["version"] == "1.1.0"

    with _Traffic(base) as traffic:
        time.sleep(0.3)
        for weights in ({blue.address: 90, green.address: 10}, {blue.address: 50, green.address: 50}):
            router.set_weights(weights)
            time.sleep(0.3)
        assert router.switch_to(green.address) == {blue.address: 0, green.address: 100}
        time.sleep(0.5)
    assert traffic.statuses and all(s == 200 for s in traffic.statuses), sorted(set(map(str, traffic.statuses)))
    assert traffic.versions == {"1.0.0", "1.1.0"}

    health = http.get(f"{base}/health").json()
    assert health["status"] == "healthy" and health["version"] == "1.1.0"
    assert {http.get(f"{base}/version").json()["version"] for _ in range(10)} == {"1.1.0"}
    items = _items(http, base)
    assert set(before) <= {i["id"] for i in items}, "items written before the release are missing"
    assert all("description" in i for i in items), "1.1.0 serves the 0003 column"
    during = http.post(f"{base}/api/items", json={"name": "after-release", "description": "by 1.1.0"}).json()["id"]

    # Prometheus (the real one) has scraped 1.1.0 on green.
    series = wait_for(
        lambda: prometheus_query(
            stack, f'http_requests_total{{instance="{green.address}", version="1.1.0", service="{stack.service}"}}'
        ),
        timeout_s=15,
    )
    assert series, "Prometheus has no http_requests_total of 1.1.0"
    assert any(s["metric"].get("colour") == "green" for s in series)
    up = prometheus_query(stack, f'up{{instance="{green.address}"}}')
    assert up and up[0]["value"][1] == "1"

    # Rollback (app-only): traffic back to blue's 1.0.0; nothing written before or after is lost.
    router.switch_to(blue.address)
    assert http.get(f"{base}/health").json()["version"] == "1.0.0"
    ids = {i["id"] for i in _items(http, base)}
    assert set(before) | {during} <= ids
    assert http.get(f"{base}/api/items/{during}").json()["created_by_version"] == "1.1.0"
    deleted = http.delete(f"{base}/api/items/{before[0]}")
    assert deleted.status_code == 204
    assert http.get(f"{base}/api/items/{before[0]}").status_code == 404


def test_seed_endpoint_aliases(demo: Demo, http: httpx.Client) -> None:
    assert demo.migrate("1.1.0")[0] == 0
    instance = demo.start("1.1.0", 18005)
    demo.wait_healthy(instance)
    assert http.get(f"{instance.url}/api/health").json()["version"] == "1.1.0"
    assert http.get(f"{instance.url}/api/version").json()["version"] == "1.1.0"
    assert http.get(f"{instance.url}/api/health/database").json()["revision"] == "0003"
    assert http.get(f"{instance.url}/health/db").json()["status"] == "healthy"
    for path in ("/api/health/cache", "/api/health/external-apis", "/health/ai", "/health/projections"):
        assert http.get(f"{instance.url}{path}").json()["status"] == "healthy", path
    metrics = http.get(f"{instance.url}/metrics").text
    assert 'app_info{fault="none",release="1.1.0",version="1.1.0"} 1.0' in metrics
    assert "http_request_duration_seconds_bucket" in metrics
