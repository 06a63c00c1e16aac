"""Shell command lines from runbook templates: a value is always one quoted word, never code.

Every command releasegate runs itself is an argument list. A runbook field that *is* a shell
command line (a host target's ``deploy_command``, a rollback command) is a template its author
wrote, with named placeholders: ``systemctl restart demo@{version}``. ``fill`` puts each value in
through ``shlex.quote``; ``check_template`` (run when the runbook is validated) refuses a template
where a quoted value could still change the command:

- a placeholder that is not one of the field's names, or has a conversion, format spec, attribute
  or index (``{version!r}``, ``{service.name}``), or is positional (``{}``, ``{0}``);
- a placeholder inside quotes or backticks, after a backslash or a ``$`` (a quoted value would end
  the quote, or become ``$'...'``), or in a here-document (whose body expands ``$(...)``).

In an argument list (a migration's ``downgrade_command``) a value is one argument as it is, but
the script of ``sh -c SCRIPT`` in it is a template too (``check_argv``, ``fill_argv``).
``{{`` and ``}}`` are literal braces. What the shell does with a word is out of reach: a template
that hands a value to another shell (``eval``, ``sh -c``, ``ssh host``) must quote it again itself.
"""

from __future__ import annotations

import os
import shlex
import string
from collections.abc import Collection, Mapping, Sequence

from releasegate.checks.errors import ConfigError

__all__ = ["ShellTemplateError", "check_argv", "check_template", "fill", "fill_argv", "placeholders", "shell_argv"]

SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh"})
_SENTINEL = "\ue000"  # a private-use character no template holds: the word a placeholder stands for
# every character a shell treats specially, so a template that does not keep it one word is caught
_PROBE = "v a'b\"c$(d)`e`;f|g&h<i>j\\k*l?m[n]~o#p{q}\nr"


class ShellTemplateError(ConfigError, ValueError):
    """A shell template that cannot be filled safely (a ValueError, so the runbook model reports it)."""


def _fields(template: str) -> list[tuple[str, str | None]]:
    """(literal text, placeholder name or None) pairs; the template's own errors as ShellTemplateError."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ShellTemplateError(f"{exc}; write {{{{ and }}}} for a literal brace") from None
    pairs: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parsed:
        if name is not None and (not name.isidentifier() or spec or conversion):
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise ShellTemplateError(f"placeholder {shown} is not a plain name such as {{version}};"
                                     " write {{ and }} for a literal brace")
        pairs.append((literal, name))
    return pairs


def placeholders(template: str) -> list[str]:
    """The placeholder names of ``template``, in order (repeats included)."""
    return [name for _, name in _fields(template) if name is not None]


def _substitute(pairs: list[tuple[str, str | None]], word: Mapping[str, str]) -> str:
    return "".join(literal + (word[name] if name is not None else "") for literal, name in pairs)


def _words(line: str) -> list[str]:
    """The words a POSIX shell reads, with backticks treated as quotes; ValueError when it cannot."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""  # the shell starts a comment only at a word's start; never guess a placeholder away
    lexer.quotes += "`"
    return list(lexer)


def check_template(template: str, allowed: Collection[str]) -> str:
    """``template`` unchanged when ``fill`` can put any value of the ``allowed`` names in it as one word."""
    pairs = _fields(template)
    names = {name for _, name in pairs if name is not None}
    unknown = sorted(names - set(allowed))
    if unknown:
        known = ", ".join("{" + n + "}" for n in allowed) or "none"
        raise ShellTemplateError(f"unknown placeholder {{{unknown[0]}}}; placeholders here: {known};"
                                 " write {{ and }} for a literal brace")
    if not names:
        return template
    glued = [name for literal, name in pairs if name is not None and literal.endswith(("$", "\\"))]
    if glued:
        raise ShellTemplateError(f"placeholder {{{glued[0]}}} follows a '$' or a backslash; write it bare"
                                 " (releasegate quotes every value)")
    try:
        expected = [w.replace(_SENTINEL, _PROBE) for w in _words(_substitute(pairs, {n: _SENTINEL for n in names}))]
        filled = _words(_substitute(pairs, {n: shlex.quote(_PROBE) for n in names}))
    except ValueError as exc:
        raise ShellTemplateError(f"cannot read it as a shell command line: {exc}") from None
    if any("<<" in w and "<<<" not in w for w in expected):
        raise ShellTemplateError("a here-document (<<) would expand $(...) in a value; pass values as words"
                                 " of a command instead")
    if filled != expected:
        raise ShellTemplateError("a placeholder stands inside quotes, backticks or after a backslash; write it"
                                 " bare (releasegate quotes every value): echo {version}, not echo '{version}'")
    return template


def fill(template: str, values: Mapping[str, str | None]) -> str:
    """``template`` with every placeholder replaced by its value, quoted with ``shlex.quote``.

    Raises ``ShellTemplateError`` when the template is not safe to fill (``check_template``) or a
    placeholder it uses has no value (None: not known) or one with a NUL byte.
    """
    check_template(template, list(values))
    pairs = _fields(template)
    used = {name for _, name in pairs if name is not None}
    missing = sorted(name for name in used if values[name] is None)
    if missing:
        raise ShellTemplateError(f"needs {{{missing[0]}}}, which is not known in this run")
    with_nul = sorted(name for name in used if "\x00" in str(values[name]))
    if with_nul:
        raise ShellTemplateError(f"the value of {{{with_nul[0]}}} holds a NUL byte, which no command line can carry")
    return _substitute(pairs, {name: shlex.quote(str(value)) for name, value in values.items() if value is not None})


def shell_argv(command_line: str) -> list[str]:
    """The argument list that runs a filled template: ``/bin/sh -c LINE`` (never ``shell=True``)."""
    return ["/bin/sh", "-c", command_line]


def _script_index(argv: Sequence[str]) -> int | None:
    """Where the script of ``sh -c SCRIPT`` (``bash -ec``, ``sh -o pipefail -c``...) is in ``argv``."""
    if not argv or os.path.basename(argv[0]) not in SHELLS:
        return None
    command_string = False
    index = 1
    while index < len(argv) and argv[index][:1] in "-+" and argv[index] not in ("-", "--"):
        option = argv[index]
        command_string = command_string or (not option.startswith("--") and "c" in option[1:])
        index += 2 if option in ("-o", "+o") else 1
    if argv[index:index + 1] == ["--"]:
        index += 1
    return index if command_string and index < len(argv) else None


def check_argv(argv: Sequence[str], allowed: Collection[str]) -> list[str]:
    """``argv`` unchanged when ``fill_argv`` can fill it: the script of a shell in it passes ``check_template``."""
    script = _script_index(argv)
    if script is not None:
        check_template(argv[script], allowed)
    return list(argv)


def fill_argv(argv: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """``argv`` with ``{name}`` replaced by its value in every argument.

    An argument is given to the program as it is, so a value there needs no quoting; the script of
    a shell (``sh -c "alembic downgrade {revision}"``) is a template and gets ``fill``'s quoting.
    """
    script = _script_index(argv)
    filled = []
    for index, part in enumerate(argv):
        if index == script:
            filled.append(fill(part, values))
            continue
        for name, value in values.items():
            part = part.replace("{" + name + "}", value)
        filled.append(part)
    return filled
