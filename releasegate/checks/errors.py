"""Errors of the releasegate library.

    ReleaseGateError
     +-- ConfigError            bad input from the user: shown as one line, exit 4
     |    +-- UnknownEnvironment
     |    +-- RunbookSyntaxError
     |    +-- RunbookSchemaError
     |    +-- MissingVariable
     |    +-- NotInRunbook       a name the runbook does not define (also a KeyError)
     |    +-- UnreadableFile     a runbook, confirmations or dotenv file that cannot be read as UTF-8 text
     |    +-- InvalidOption      a command-line option or its environment variable (--release, --env, ...)
     +-- TargetError            a target could not be driven
     |    +-- UnknownTarget
     |    +-- TargetUnreachable
     +-- CheckError             a check could not run at all (not the same as a failed check)

Every message says what is wrong and what to do; none carries a secret (callers pass values
through ``checks.secrets.redact`` before they build one). A ``ConfigError`` is always one line: a
line break or control character that reaches its message (from a value the user typed) is shown escaped.
"""

from __future__ import annotations

from releasegate.checks.secrets import redact


class ReleaseGateError(Exception):
    """Base of every error raised on purpose by releasegate."""


class ConfigError(ReleaseGateError):
    """The runbook, an option or an environment variable is wrong."""

    def __str__(self) -> str:
        return one_line(super().__str__())


class UnknownEnvironment(ConfigError):
    pass


class RunbookSyntaxError(ConfigError):
    pass


class RunbookSchemaError(ConfigError):
    pass


class MissingVariable(ConfigError):
    pass


class UnreadableFile(ConfigError):
    pass


class InvalidOption(ConfigError):
    pass


class NotInRunbook(ConfigError, KeyError):
    """No ``kind`` named ``name`` in runbook ``runbook``; ``known`` lists the names it has, in its order."""

    def __init__(self, kind: str, name: object, runbook: str, known: list[str]) -> None:
        self.kind, self.name, self.runbook, self.known = kind, name, runbook, known
        super().__init__(f"no {kind} named {name!r} in runbook {runbook!r}; known: {self.known_text}")

    @property
    def known_text(self) -> str:
        """The known names for a message: "api, web", or "none"."""
        return ", ".join(self.known) or "none"

    def __str__(self) -> str:  # KeyError would quote the message
        return one_line(str(self.args[0]))


class TargetError(ReleaseGateError):
    pass


class UnknownTarget(TargetError):
    pass


class TargetUnreachable(TargetError):
    pass


class CheckError(ReleaseGateError):
    pass


def one_line(text: str) -> str:
    """``text`` with its line breaks and other control characters escaped (``\\n``, ``\\x00``): one printable line."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def describe_error(exc: BaseException) -> str:
    """One redacted line for an exception raised by a transport (SDK, HTTP client, subprocess)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return redact(text)[:300]
