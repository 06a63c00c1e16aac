"""No runbook value reaches nginx.conf unvalidated or unquoted: hostile ``listen`` and paths are refused
when the runbook loads (one line naming file, line and field), or written so that nginx reads them
as one literal path (a real nginx runs with them and puts its files exactly there)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from support import hostile
from support.routers import BLUE, GREEN, LISTEN

from releasegate.checks.deploy.routers import make_router, router_settings
from releasegate.checks.deploy.routers.nginx import Router
from releasegate.checks.errors import CheckError, ConfigError
from releasegate.checks.runbook.loader import load_runbook

HEAD = """\
name: local
services:
  - {name: demo-api, base_url: "http://127.0.0.1:18199"}
deploy:
  router:
    kind: nginx
    options:
"""
FIELD_LINE = HEAD.count("\n") + 1

NGINX_LISTEN = (
    "127.0.0.1:8080; include /etc/passwd",
    "127.0.0.1:8080 default_server",
    "127.0.0.1:8080;",
    "127.0.0.1:8080{",
    "}:8080",
    "'127.0.0.1:8080'",
    '"127.0.0.1:8080"',
    "$hostname:8080",
    "127.0.0.1:$server_port",
    "127.0.0.1:8080\nuser root;",
    "127.0.0.1:8080\r\n",
    "127.0.0.1:8080#",
    "127.0.0.1:99999",
    "127.0.0.1:0",
    "127.0.0.1",
    "8080",
    "unix:/tmp/x.sock",
    "*:8080",
    "[::1;]:8080",
    "local host:8080",
    "-h:8080",
    "",
)
REFUSED_PATHS = (
    "/srv/$host/nginx",
    "/srv/${IFS}x",
    "/srv/a\nuser root;",
    "/srv/a\r",
    "/srv/a\tb",
    "/srv/*/nginx",
    "/srv/a?/nginx",
    "/srv/[ab]/nginx",
    "/srv/a\u2028b",
    "",
)
INERT_PARTS = ("a;b", "c{d}e", "f'g", 'h"i', "j k", "l\\m", "n#o", "p}q;{", *(
    part for part in hostile.PATH_PARTS if "$" not in part and part.isprintable()))


def _runbook(tmp_path: Path, options: str) -> Path:
    path = tmp_path / "runbooks" / "local.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(HEAD + textwrap.indent(options, "      "))
    return path


def _refused(path: Path) -> str:
    with pytest.raises(ConfigError) as raised:  # a schema error, or ${...} refused as a variable
        load_runbook(path)
    message = str(raised.value)
    assert "\n" not in message and "\r" not in message
    return message


@pytest.mark.parametrize("value", [*NGINX_LISTEN, *(form.format(m="rg-marker") for form in hostile.FORMS)])
@pytest.mark.parametrize("where", ["listen", "services"])
def test_a_hostile_listen_is_refused_when_the_runbook_loads(tmp_path: Path, value: str, where: str) -> None:
    if where == "listen":
        path, field = _runbook(tmp_path, f"listen: {json.dumps(value)}\n"), "deploy.router.options.listen"
    else:
        path = _runbook(tmp_path, f"services:\n  demo-api:\n    listen: {json.dumps(value)}\n")
        field = "deploy.router.options.services.demo-api.listen"
    line = FIELD_LINE + (0 if where == "listen" else 2)
    message = _refused(path)
    assert message.startswith(f"{path}:{line}: {field}"), message
    assert "host:port" in message or "environment variable" in message, message


@pytest.mark.parametrize("value", REFUSED_PATHS)
@pytest.mark.parametrize("field", ["root", "config_dir", "services"])
def test_a_path_nginx_would_read_as_code_is_refused_when_the_runbook_loads(tmp_path: Path, value: str,
                                                                           field: str) -> None:
    if field == "services":
        path = _runbook(tmp_path, f"services:\n  demo-api:\n    root: {json.dumps(value)}\n")
        line, dotted = FIELD_LINE + 2, "deploy.router.options.services.demo-api.root"
    else:
        path, line, dotted = _runbook(tmp_path, f"{field}: {json.dumps(value)}\n"), FIELD_LINE, \
            f"deploy.router.options.{field}"
    message = _refused(path)
    assert message.startswith(f"{path}:{line}: {dotted}"), message


@pytest.mark.parametrize("listen", ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "router-1.example.org:80",
                                    "0.0.0.0:18080"])
def test_ordinary_listen_addresses_load(tmp_path: Path, listen: str) -> None:
    runbook = load_runbook(_runbook(tmp_path, f"listen: {json.dumps(listen)}\nroot: /srv/my nginx (blue)\n"))
    settings = router_settings(runbook.deploy.router, runbook.services[0], 1, tmp_path)
    assert (settings.listen, settings.root) == (listen, "/srv/my nginx (blue)")


def test_hostile_but_valid_paths_are_quoted_and_inert_on_a_real_nginx(tmp_path: Path, backends: None,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a marker of hostile.PATH_PARTS would land here if anything ran them
    root = tmp_path.joinpath(*INERT_PARTS, "nginx")
    runbook = load_runbook(_runbook(tmp_path, f"listen: {LISTEN}\nroot: {json.dumps(str(root))}\n"))
    settings = router_settings(runbook.deploy.router, runbook.services[0], 1, tmp_path)
    assert settings.root == str(root)
    router = make_router(settings)
    assert isinstance(router, Router)
    try:
        router.set_weights({BLUE: 100, GREEN: 0}, colors={"blue": BLUE, "green": GREEN})
        assert router.verify_weights({BLUE: 100, GREEN: 0})
        assert sorted(p.name for p in root.iterdir()) == [
            "access.log", "error.log", "nginx.conf", "nginx.pid", "tmp", "upstreams.conf"]
        assert int((root / "nginx.pid").read_text()) == router.pid()
    finally:
        router.stop()
    assert hostile.left_behind(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([INERT_PARTS[0], "runbooks"])


@pytest.mark.parametrize(("listen", "root"), [
    ("127.0.0.1:8080; user root", "/tmp/x"),
    ("127.0.0.1:8080", "/tmp/$pid"),
    ("127.0.0.1:8080", "/tmp/a\n}"),
])
def test_a_router_from_a_record_refuses_what_the_runbook_would(listen: str, root: str) -> None:
    """A journal's deployment record is read back without the runbook model: the router checks again."""
    with pytest.raises(CheckError, match=r"^nginx router: ") as raised:
        make_router({"kind": "nginx", "listen": listen, "root": root})
    assert "\n" not in str(raised.value)
