"""Reading and writing the files a user hands releasegate: every problem one line, never a traceback.

``read_text`` reads a runbook, a confirmations file or a dotenv file as UTF-8 (a folder, a FIFO,
a symlink loop, an unreadable or non-UTF-8 file, a file too large to be a configuration are each
a ``ConfigError`` naming the file). ``load_yaml`` parses YAML strictly: a key repeated in one
mapping is an error naming both lines (PyYAML would keep the last one), and aliases are allowed
but bounded, so an expansion bomb ("billion laughs") is refused before anything walks it.
``writable_file`` checks, before a run starts, that a file can be written where it is asked for.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from releasegate.checks.errors import ConfigError, UnreadableFile

MAX_BYTES = 10 * 1024 * 1024
"""The largest configuration file read (10 MiB)."""

MAX_NODES = 100_000
"""YAML nodes a document may hold once its aliases are expanded (the shipped runbooks have a few hundred)."""

MAX_DEPTH = 64
"""How deeply YAML collections may nest (a runbook needs about six levels)."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


def read_text(path: Path, what: str, *, missing_hint: str = "") -> str:
    """The text of a configuration file, read as UTF-8; ``UnreadableFile`` (one line) for anything else."""
    hint = f"; {missing_hint}" if missing_hint else ""
    try:
        info = path.stat()
    except FileNotFoundError:
        dangling = " (a symbolic link to nothing)" if path.is_symlink() else ""
        raise UnreadableFile(f"{path}: {what} does not exist{dangling}{hint}") from None
    except (OSError, ValueError) as exc:  # a symlink loop, a path through a file, a name too long, a NUL byte
        raise UnreadableFile(f"{path}: cannot read the {what}: {_reason(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UnreadableFile(f"{path}: the {what} is a folder; name a file")
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableFile(f"{path}: the {what} is not a regular file (a device, a pipe or a socket)")
    if info.st_size > MAX_BYTES:
        raise UnreadableFile(f"{path}: the {what} has {info.st_size} bytes; a configuration file has at most"
                             f" {MAX_BYTES} bytes")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"{path}: cannot read the {what}: {_reason(exc)}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UnreadableFile(f"{path}:{line}: the {what} is not UTF-8 text (byte 0x{data[exc.start]:02x});"
                             " save it as UTF-8") from None


def load_yaml(text: str, path: Path) -> tuple[Any, yaml.Node | None]:
    """One YAML document: its data and its node tree (for line numbers); ``ConfigError`` on any problem."""
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # its reader refuses control characters at once
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_tree(node, path)
        return loader.construct_document(node), node
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"{path}:{line}: YAML syntax error: the character {exc.character!r} is not allowed;"
                          " write it escaped in a double-quoted string") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: YAML syntax error: {exc.problem or exc.context or 'invalid YAML'}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML syntax error: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: YAML nested too deeply (more than {MAX_DEPTH} levels)") from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_tree(root: yaml.Node, path: Path) -> None:
    """Refuse repeated keys, recursive aliases, deep nesting and more than MAX_NODES nodes after expansion.

    Aliases share their node, so the expanded size is counted once per node (memoized): linear in
    the document, however large the expansion would be.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        where = f"{path}:{node.start_mark.line + 1}"
        if id(node) in open_nodes:
            raise ConfigError(f"{where}: a YAML alias refers to the collection that contains it; write the values out")
        if depth > MAX_DEPTH:
            raise ConfigError(f"{where}: YAML nested too deeply (more than {MAX_DEPTH} levels)")
        open_nodes.add(id(node))
        total = 1
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], yaml.Node] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE_TAG:
                    earlier = first.setdefault((key.tag, key.value), key)
                    if earlier is not key:
                        raise ConfigError(
                            f"{path}:{key.start_mark.line + 1}: duplicate key {key.value!r} (first at line"
                            f" {earlier.start_mark.line + 1}); keep one of them"
                        )
                children += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_NODES:
                raise ConfigError(f"{where}: the YAML expands to more than {MAX_NODES} values (aliases of aliases?);"
                                  " write the document without nested aliases")
        open_nodes.discard(id(node))
        sizes[id(node)] = total
        return total

    size(root, 0)


def writable_file(path: Path, what: str, *, create_folder: bool = False) -> None:
    """``ConfigError`` unless ``path`` can be written as a file: in an existing folder (or one this run
    may create, with ``create_folder``), not a folder itself, writable if it exists."""
    try:
        info = path.stat()
    except FileNotFoundError:
        info = None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{what} {str(path)!r}: cannot use it: {_reason(exc)}") from None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"{what} {str(path)!r} is a folder; name a file")
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{what} {str(path)!r} is not a regular file; name a file")
        if not os.access(path, os.W_OK):
            raise ConfigError(f"{what} {str(path)!r} is not writable; fix its permissions or name another file")
        return
    folder = path.parent
    while create_folder and not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.exists():
        raise ConfigError(f"{what} {str(path)!r}: the folder {str(folder)!r} does not exist; create it first")
    if not folder.is_dir():
        raise ConfigError(f"{what} {str(path)!r}: {str(folder)!r} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {str(path)!r}: cannot write in the folder {str(folder)!r}")


def _reason(exc: OSError | ValueError) -> str:
    return str((exc.strerror if isinstance(exc, OSError) else None) or exc).lower()
