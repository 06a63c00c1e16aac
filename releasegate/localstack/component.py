"""What every component of the local stack shares: its status line and the log it talks to."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

Log = Callable[[str], None]


def say(message: str) -> None:
    """The default log: ``local-stack: <message>`` on stderr."""
    print(f"local-stack: {message}", file=sys.stderr, flush=True)


@dataclass
class ComponentStatus:
    name: str
    running: bool
    detail: str

    def line(self) -> str:
        return f"{'up     ' if self.running else 'MISSING'}  {self.name:<16} {self.detail}"
