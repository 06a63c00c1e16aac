"""``releasegate lock status ENV`` and ``releasegate lock break ENV --reason "..."``: the release lock by hand.

The lock is the one a release run of ENV takes (``checks.run.lock``): the PostgreSQL advisory lock on
the runbook's database when it has one, else the lock directory beside the journals. ``status`` says
who holds it (exit 0 free, 1 held or stale); ``break`` frees it (it ends the holder's PostgreSQL
session, or removes the lock directory) and records who broke it and why, which the next run that
takes the lock journals (``lock_broken``) and shows in its sign-off. A bad name or option is one line
and exit 4; a backend that cannot be asked (database unreachable) exit 3.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from releasegate.checks import secrets
from releasegate.checks.errors import ConfigError
from releasegate.checks.run.lock import FREE, LockError, lock_for_runbook, this_operator
from releasegate.checks.runbook.loader import load_runbook, runbook_path

EXIT_FREE, EXIT_HELD, EXIT_BACKEND, EXIT_USAGE = 0, 1, 3, 4


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"releasegate lock: {message} (see releasegate lock --help)\n")
        raise SystemExit(EXIT_USAGE)


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="releasegate lock", description="the release lock of an environment")
    commands = top.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, text in (("status", "who holds the environment's release lock"),
                       ("break", "free the environment's release lock by hand (recorded in the next run)")):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("env", metavar="ENV", help="the environment: the name of a runbook in --runbooks")
        command.add_argument("--runbooks", default="runbooks", metavar="DIR", help="folder of runbooks (runbooks)")
        command.add_argument("--lock-dir", default="reports/journal/locks", metavar="DIR",
                             help="folder of lock directories and break records: the runs' <journal dir>/locks or"
                                  " their ini releasegate_lock_dir (reports/journal/locks)")
        if name == "break":
            command.add_argument("--reason", required=True, help="why the lock is broken (recorded)")
            command.add_argument("--by", default=None, metavar="NAME", help="who breaks it (default: $USER)")
    return top


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["lock"] and args_list[1:2] and args_list[1] in ("status", "break"):
        args_list = args_list[1:]  # called with the dispatcher's word still in front
    try:
        args = parser().parse_args(args_list)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        runbook = load_runbook(runbook_path(Path(args.runbooks), args.env, "ENV"))
        if args.command == "break" and (not args.reason.strip() or not args.reason.isprintable()):
            raise ConfigError("--reason: say on one line why the lock is broken, such as --reason \"run 1234 was"
                              " killed\"")
    except ConfigError as exc:
        print(f"releasegate lock: {exc}", file=sys.stderr)
        return EXIT_USAGE
    lock = lock_for_runbook(args.env, runbook, Path(args.lock_dir))
    try:
        if args.command == "status":
            status = lock.status()
            print(status.describe())
            return EXIT_FREE if status.state == FREE else EXIT_HELD
        before = lock.break_(args.reason.strip(), args.by or this_operator())
    except LockError as exc:
        print(secrets.redact(f"releasegate lock: {exc}"), file=sys.stderr)
        return EXIT_BACKEND
    if before.state == FREE:
        print(f"environment {args.env} was not locked; the break is recorded anyway ({lock.NAME})")
    else:
        print(secrets.redact(f"broke the release lock: {before.describe()}; recorded for the next run's journal"))
    return EXIT_FREE


if __name__ == "__main__":
    sys.exit(main())
