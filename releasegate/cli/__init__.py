"""The ``releasegate`` command: ``releasegate --version``, ``init``, ``judge``, ``lock status|break``.

Each subcommand is a module with ``main(argv) -> int``, named in ``COMMANDS`` by its dotted path and
imported only when it runs, so ``releasegate --help`` imports none of them and a subcommand whose
module is not part of this installation is one line and exit 4, not a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn, cast

USAGE_ERROR = 4  # as pytest's own usage error, and releasegate's for every bad input

COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("releasegate.cli.init:main", "scaffold releasegate in a repository (features, runbook, ini, CI job)"),
    "judge": ("releasegate.cli.judge:main", "judge a canary from recorded measurements"),
    "lock": ("releasegate.cli.lock:main", "who holds an environment's release lock; break a stale one"),
}

Command = Callable[[list[str] | None], int]


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line and exits 4."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def installed_version() -> str:
    try:
        return version("releasegate")
    except PackageNotFoundError:  # a checkout on sys.path that was never installed
        return "unknown (not installed)"


def resolve(name: str) -> Command | None:
    """The ``main`` of a subcommand, or None when its module is not in this installation."""
    module_name, _, attribute = COMMANDS[name][0].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            return None
        raise  # the module is there but one of its own imports is missing: a defect, shown as such
    return cast(Command, getattr(module, attribute))


def parser() -> Parser:
    top = Parser(prog="releasegate", description="Executable, auditable release runbooks run by pytest."
                 " A release itself is a pytest run: pytest features/release.feature --env NAME")
    top.add_argument("--version", action="version", version=f"releasegate {installed_version()}")
    commands = top.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (_, help_text) in COMMANDS.items():
        # each command parses its own arguments (``releasegate init --help``)
        commands.add_parser(name, help=help_text, add_help=False)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in COMMANDS:
        command = resolve(args[0])
        if command is None:
            print(f"releasegate: {args[0]} is not available in this installation", file=sys.stderr)
            return USAGE_ERROR
        return command(args[1:])
    top = parser()
    top.parse_args(args)  # --help and --version exit here; an unknown command is an error (exit 4)
    top.print_help(sys.stderr)
    return USAGE_ERROR
