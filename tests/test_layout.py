"""The fences of the layout, read from the source (AST), so a violation names its file and line.

- The library (releasegate/checks, releasegate/steps, releasegate/load) never imports the local
  stack (releasegate/localstack); among the plugins only plugins/stack.py does.
- releasegate/checks is a plain library: no pytest, no pytest-bdd.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "releasegate"
REPO = PACKAGE.parent
LIBRARY = ("checks", "steps", "load")
STACK_PLUGIN = PACKAGE / "plugins" / "stack.py"
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.\w+)+(:[\w.]+)?")  # "package.module" or "package.module:attribute"


def _modules(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (PACKAGE / folder).rglob("*.py"))


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, root: Path = REPO) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every import in ``path``, and of every string that names a module
    the way the lazy registries do ("package.module" or "package.module:attribute")."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _DOTTED.fullmatch(node.value):
            yield node.lineno, node.value.partition(":")[0]


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _offences(paths: list[Path], *packages: str) -> list[str]:
    """One line per offending import statement: ``file:line: imports name``."""
    found: dict[tuple[Path, int], str] = {}
    for path in paths:
        for line, name in imported(path):
            if any(_within(name, package) for package in packages):
                found.setdefault((path, line), name)
    return [f"{path.relative_to(REPO)}:{line}: imports {name}" for (path, line), name in found.items()]


def test_the_library_never_imports_the_local_stack() -> None:
    offences = _offences(_modules(*LIBRARY), "releasegate.localstack")
    assert not offences, "the local stack is fenced off from the library:\n" + "\n".join(offences)


def test_only_the_stack_plugin_imports_the_local_stack() -> None:
    plugins = [path for path in _modules("plugins") if path != STACK_PLUGIN]
    offences = _offences(plugins, "releasegate.localstack")
    assert not offences, "only plugins/stack.py may import the local stack:\n" + "\n".join(offences)
    assert _offences([STACK_PLUGIN], "releasegate.localstack"), "plugins/stack.py should be the stack's plugin"


def test_checks_is_a_plain_library_without_pytest() -> None:
    offences = _offences(_modules("checks"), "pytest", "pytest_bdd", "_pytest")
    assert not offences, "releasegate/checks must not depend on pytest:\n" + "\n".join(offences)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import releasegate.localstack.images\n", "releasegate.localstack.images"),
        ("from releasegate import localstack\n", "releasegate.localstack"),
        ("from ...localstack import stack\n", "releasegate.localstack"),
        ("BACKENDS = {'x': 'releasegate.localstack.router:router'}\n", "releasegate.localstack.router"),
    ],
)
def test_every_way_of_importing_is_seen(tmp_path: Path, source: str, expected: str) -> None:
    folder = tmp_path / "releasegate" / "checks" / "deploy"
    folder.mkdir(parents=True)
    probe = folder / "probe.py"
    probe.write_text(source)
    names = {name for _, name in imported(probe, root=tmp_path)}
    assert expected in names, names
