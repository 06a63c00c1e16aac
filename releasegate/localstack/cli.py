"""``python -m releasegate.localstack`` (``scripts/local-stack``): the local stack's command line.

Subcommands up [--no-images], down, status, images, reset VERSION, quiet (``--help`` says what
each does). Every usage mistake prints the one usage line and exits 2; a failure of the stack is
one line on stderr and exit 3.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import NoReturn

from releasegate.checks import secrets
from releasegate.checks.errors import CheckError, ReleaseGateError
from releasegate.localstack import dockerd, images, prometheus, stack
from releasegate.localstack.config import StackConfig
from releasegate.localstack.host import host_problems

USAGE = "usage: scripts/local-stack up|down|status|images [--no-images] | reset VERSION | quiet"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """Every usage mistake prints the one usage line (the scripts and their tests rely on it)."""
        self.exit(2, USAGE + "\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scripts/local-stack", usage=USAGE.removeprefix("usage: "),
                     description="The local stack on 127.0.0.1; settings from runbooks/local.yaml.",
                     epilog="exit codes: 0 done, 1 status found something missing, 2 usage, 3 the stack could not"
                     " do it (one line on stderr: what, and what to do)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, prog=parser.prog)
    up = commands.add_parser("up", help="start what is not running, build missing images (idempotent)")
    up.add_argument("--no-images", action="store_true", help="do not build the images")
    commands.add_parser("down", help="stop it (the Docker engine keeps running)")
    commands.add_parser("status", help="what runs and what is missing (exit 1 when something is), host problems")
    commands.add_parser("images", help="build the images whose inputs changed")
    reset = commands.add_parser("reset", help="no demo containers, the router without backend, the schema of VERSION")
    reset.add_argument("version", metavar="VERSION", help="the demo build the release starts from, e.g. 1.0.0")
    commands.add_parser("quiet", help="wait (up to 90 s) until no alert fires in Prometheus")
    return parser


def _up(config: StackConfig, options: argparse.Namespace) -> int:
    started = time.monotonic()
    for item in stack.up(config, build_images=not options.no_images):
        print(item.line())
    print(f"local stack up in {time.monotonic() - started:.1f}s; router {config.router_url}")
    return 0


def _down(config: StackConfig, options: argparse.Namespace) -> int:
    stack.down(config)
    print("local stack down (the Docker engine keeps running)")
    return 0


def _status(config: StackConfig, options: argparse.Namespace) -> int:
    found = stack.status(config)
    for item in found:
        print(item.line())
    for problem in host_problems():
        print(f"problem  {problem}")
    return 0 if all(item.running for item in found) else 1


def _images(config: StackConfig, options: argparse.Namespace) -> int:
    problems = [p for p in host_problems() if "nginx" not in p and "prometheus" not in p.lower()]
    if problems:
        raise CheckError("cannot build the images here: " + "; ".join(problems))
    dockerd.ensure(config)
    for outcome in images.build_all(config.image_versions):
        print(f"{'built ' if outcome.built else 'cached'}  {outcome.image}  {outcome.input_hash[:12]}")
    return 0


def _reset(config: StackConfig, options: argparse.Namespace) -> int:
    stack.reset(config, options.version)
    return 0


def _quiet(config: StackConfig, options: argparse.Namespace) -> int:
    prometheus.wait_until_quiet(config)
    return 0


_COMMANDS = {"up": _up, "down": _down, "status": _status, "images": _images, "reset": _reset, "quiet": _quiet}


def main(argv: list[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    try:
        return _COMMANDS[options.command](StackConfig.load(), options)
    except ReleaseGateError as exc:
        print(f"local-stack {options.command}: {secrets.redact(str(exc))}", file=sys.stderr)
        return 3
