"""The compose target on a real engine: `up -d --no-deps` per service, blue-green with switch-back, order."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.ports import worker_index

from releasegate.checks.deploy import observe, strategies
from releasegate.checks.deploy.prober import Prober
from releasegate.checks.deploy.routers.nginx import Router
from releasegate.checks.deploy.targets.base import get_target
from releasegate.checks.deploy.targets.compose import ComposeTarget, compose_command
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Deploy, Runbook, Service
from releasegate.checks.runbook.model import Router as RouterSpec
from releasegate.checks.runbook.model import Target as TargetSpec

WORK = Path("/tmp/releasegate-targets")
BASE = 18170 + 10 * worker_index()  # 18170-18176, or 18180-18186 on a second xdist worker


def port(offset: int) -> int:
    return BASE + offset


@pytest.fixture
def compose_project(demo_images: None, tmp_path: Path) -> Iterator[Path]:
    try:
        compose_command()
    except Exception as exc:
        pytest.fail(str(exc))
    folder = WORK / f"compose-{tmp_path.name}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    services = {
        name: {"image": "releasegate-demo:1.0.0", "network_mode": "host", "environment": {"PORT": str(listen)}}
        for name, listen in (("api-blue", port(0)), ("api-green", port(1)), ("web", port(2)), ("pair-b1", port(3)),
                           ("pair-b2", port(4)), ("pair-g1", port(5)), ("pair-g2", port(6)))
    }
    services["web"]["depends_on"] = ["api-blue"]
    (folder / "docker-compose.yml").write_text(yaml.safe_dump({"version": "3.8", "services": services}))
    yield folder
    target = ComposeTarget(TargetSpec(name="c", kind="compose", options=_options(folder)),
                           [Service(name="demo-api", base_url=f"http://127.0.0.1:{port(0)}")])
    target.down()
    target.close()


def _options(folder: Path) -> dict[str, object]:
    return {"file": str(folder / "docker-compose.yml"), "project": f"rg{folder.name.replace('-', '')}",
            "state_dir": str(folder / "state"), "health_timeout_s": 30,
            "services": {"demo-api": [{"name": "api-blue", "port": port(0)}, {"name": "api-green", "port": port(1)}],
                         "demo-web": [{"name": "web", "port": port(2)}],
                         "demo-pair": [{"name": f"pair-{n}", "port": p} for n, p in
                                       (("b1", port(3)), ("b2", port(4)), ("g1", port(5)), ("g2", port(6)))]}}


def _services(router_url: str) -> list[Service]:
    return [Service(name="demo-api", base_url=router_url, image="releasegate-demo", readiness=None),
            Service(name="demo-web", base_url=f"http://127.0.0.1:{port(2)}", image="releasegate-demo", readiness=None,
                    depends_on=["demo-api"])]


def _version(url: str) -> str:
    with urllib.request.urlopen(f"{url}/version", timeout=3) as response:
        return str(json.loads(response.read())["version"])


def test_compose_blue_green_and_switch_back_under_the_prober(compose_project: Path, router: Router) -> None:
    spec = TargetSpec(name="compose", kind="compose", options=_options(compose_project))
    target = get_target(spec, _services(router.url))
    assert isinstance(target, ComposeTarget)
    target.check_reachable()
    settings = {"kind": "nginx", "root": str(router.root), "listen": router.listen}
    first = strategies.deploy(target, "demo-api", "1.0.0", "recreate", router=router, router_settings=settings)
    assert first.passed, first.result.summary()
    with Prober(f"{router.url}/version", rate_per_s=60) as prober:
        deployment = strategies.deploy(target, "demo-api", "1.1.0", "blue-green", router=router,
                                       router_settings=settings)
        assert deployment.passed, deployment.result.summary()
        assert _version(router.url) == "1.1.0"
        override = yaml.safe_load(target.override.read_text())
        assert override["services"]["api-green"]["image"] == "releasegate-demo:1.1.0"
        green = target.instance("demo-api", target.colour_slots("demo-api", "green")[0])
        assert green is not None and green.version == "1.1.0" and green.health == "healthy"
        back = strategies.rollback(deployment.record)
    assert back.passed, back.summary()
    assert _version(router.url) == "1.0.0"
    assert prober.result.check(min_rate_per_s=50).passed, prober.result.as_dict()
    # the undo removes the colour the release started, once blue serves again
    assert target.instance("demo-api", target.colour_slots("demo-api", "green")[0]) is None


def test_services_deploy_in_dependency_order_one_at_a_time(compose_project: Path) -> None:
    spec = TargetSpec(name="compose", kind="compose", options=_options(compose_project))
    runbook = Runbook(name="t", services=list(reversed(_services(f"http://127.0.0.1:{port(0)}"))), targets=[spec],
                      deploy=Deploy(target="compose", strategy="recreate", router=RouterSpec(kind="none")))
    target = get_target(spec, runbook)
    assert observe.deploy_order(runbook) == ["demo-api", "demo-web"]
    done = observe.deploy_services(runbook, target, "1.1.0")
    assert [d.service for d in done] == ["demo-api", "demo-web"]
    assert all(d.passed for d in done), [d.result.summary() for d in done]
    backend, frontend = done[0].record, done[1].record
    assert backend.started_at + (backend.duration_s or 0) <= frontend.started_at  # one at a time
    assert _version(f"http://127.0.0.1:{port(2)}") == "1.1.0"
    # a failing backend stops the line before the frontend is touched
    failed = observe.deploy_services(runbook, target, "1.1.0-crash")
    assert len(failed) == 1 and failed[0].result.failed
    assert _version(f"http://127.0.0.1:{port(2)}") == "1.1.0"


def test_compose_rolling_two_instances_and_canary_abort_under_the_prober(compose_project: Path,
                                                                         router: Router) -> None:
    spec = TargetSpec(name="compose", kind="compose", options=_options(compose_project))
    pair = Service(name="demo-pair", base_url=router.url, image="releasegate-demo", readiness=None, instances=2)
    target = get_target(spec, [pair])
    assert isinstance(target, ComposeTarget)
    settings = {"kind": "nginx", "root": str(router.root), "listen": router.listen}
    assert strategies.deploy(target, "demo-pair", "1.0.0", "recreate", router=router, router_settings=settings).passed
    with Prober(f"{router.url}/version", rate_per_s=60) as prober:
        rolled = strategies.deploy(target, "demo-pair", "1.1.0", "rolling", router=router, router_settings=settings)
        assert rolled.passed, rolled.result.summary()
        assert [s["slot"] for s in rolled.record.steps if s["step"] == "replaced"] == [0, 1]

        def gate(weight: int) -> CheckResult:
            return CheckResult.fail("canary analysis", "error rate 0.2", "<= 0.05")

        canary = strategies.deploy(target, "demo-pair", "1.1.0-errors", "canary", router=router,
                                   router_settings=settings, gate=gate)
    assert canary.result.failed and canary.record.outcome == "aborted"
    assert [s["step"] for s in canary.record.steps if s["step"].startswith("canary")] == [
        "canary 5%", "canary weight 0"]
    assert _version(router.url) == "1.1.0"
    assert {i.version for i in target.instances("demo-pair")} == {"1.1.0"}  # canary container removed
    assert prober.result.check(min_rate_per_s=50).passed, prober.result.as_dict()
