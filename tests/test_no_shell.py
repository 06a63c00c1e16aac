"""Read the package's code: no shell=True, no os.system, and no command line built from unquoted values.

A command releasegate runs is an argument list. Where a command line is a string (a testinfra host
runs one through its shell; ``sh -c`` scripts), every value formatted into it goes through
``shlex.quote`` or ``shlex.join``; runbook templates go through ``checks._support.shell.fill``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "releasegate"
RUNNERS = {"run", "Popen", "call", "check_call", "check_output", "run_test", "exec_run", "_run", "_checked"}
FORBIDDEN = {("os", "system"), ("os", "popen"), ("subprocess", "getoutput"), ("subprocess", "getstatusoutput")}
SHELLS = {"sh", "bash", "/bin/sh", "/bin/bash", "dash"}
QUOTING = {"quote", "join"}  # shlex.quote, shlex.join


def _quoted(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in QUOTING \
        and isinstance(node.func.value, ast.Name) and node.func.value.id == "shlex"


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _unquoted_values(node: ast.expr) -> list[ast.expr]:
    """The values formatted into a command line that no shlex call quotes (an f-string, %, + or .format)."""
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.FormattedValue) and not _quoted(v.value)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and _is_text(node.left):
        values = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
        return [v for v in values if not _quoted(v)] + _unquoted_values(node.left)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and (_is_text(node.left) or _is_text(node.right)):
        sides = [node.left, node.right]
        return [v for side in sides for v in (_unquoted_values(side) if isinstance(side, (ast.BinOp, ast.JoinedStr))
                                              else [] if _is_text(side) or _quoted(side) else [side])]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" \
            and _is_text(node.func.value):
        return [a for a in [*node.args, *(k.value for k in node.keywords)] if not _quoted(a)]
    return []


def _command_lines(call: ast.Call) -> list[ast.expr]:
    """The arguments of ``call`` that are command lines: the script of ``[sh, -c, SCRIPT]``, and a string
    given as ``run(line)`` or ``run(host, line)`` (more arguments are an argument list: ``_run(*argv)``)."""
    lines: list[ast.expr] = []
    for arg in call.args:
        if isinstance(arg, ast.List) and len(arg.elts) > 2 and isinstance(arg.elts[0], ast.Constant) \
                and arg.elts[0].value in SHELLS:
            flags = [i for i, e in enumerate(arg.elts) if isinstance(e, ast.Constant) and e.value == "-c"]
            lines.extend(arg.elts[i + 1] for i in flags if i + 1 < len(arg.elts))
        elif len(call.args) <= 2:
            lines.append(arg)
    return lines


def problems(source: str, filename: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
        where = f"{filename}:{node.lineno}"
        if (owner, name) in FORBIDDEN:
            found.append(f"{where}: {owner}.{name}() runs a shell; pass an argument list to subprocess.run")
        for keyword in node.keywords:
            off = isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            if keyword.arg == "shell" and not off:
                found.append(f"{where}: shell=True; pass an argument list (checks._support.shell.shell_argv)")
        if name in RUNNERS:
            for line in _command_lines(node):
                for value in _unquoted_values(line):
                    found.append(f"{where}: {ast.unparse(value)!r} is formatted into a command line unquoted;"
                                 " use shlex.quote / shlex.join or checks._support.shell.fill")
    return found


def test_no_module_of_the_package_hands_a_value_to_a_shell() -> None:
    found = [p for path in sorted(PACKAGE.rglob("*.py"))
             for p in problems(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(("code", "wanted"), [
    ("subprocess.run(command, shell=True)", "shell=True"),
    ("os.system('make ' + target)", "os.system"),
    ("host.run(f'systemctl restart {service}')", "'service' is formatted"),
    ("hosts.run(host, 'deploy %s' % version)", "'version' is formatted"),
    ("_run(host, 'deploy {}'.format(version))", "'version' is formatted"),
    ("subprocess.run(['sh', '-c', f'deploy {version}'])", "'version' is formatted"),
])
def test_the_reader_catches_each_way_a_value_reaches_a_shell(code: str, wanted: str) -> None:
    found = problems(code, "x.py")
    assert len(found) == 1 and wanted in found[0], found


@pytest.mark.parametrize("code", [
    "subprocess.run(['docker', 'compose', '-p', project, 'up'])",
    "host.run(f'df -Pk {shlex.quote(path)}')",
    "hosts.run(host, shlex.join(['sh', '-c', SCRIPT]))",
    "subprocess.run(['sh', '-c', f'{shlex.join(argv)} >>{shlex.quote(log)} &'])",
    "subprocess.run([sys.executable, '-m', 'alembic', '-c', str(ini)])",
    "subprocess.run(argv, shell=False)",
])
def test_the_reader_passes_argument_lists_and_quoted_values(code: str) -> None:
    assert problems(code, "x.py") == []
