"""Keep secrets out of every output: terminal reports, captured output, logs, Allure, JUnit.

Reports are redacted as they are made (so the terminal, xdist and JUnit only ever see masked
text); log records are masked by a filter; and the files a run leaves behind are swept once
more at the very end, because some writers (Allure's step errors) take text straight from
exceptions.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator
from pathlib import Path

import pytest

from releasegate.checks import secrets

OUTPUT_DIRS_KEY = pytest.StashKey[list[Path]]()


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = secrets.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_FILTER = RedactingFilter()


def register_output(config: pytest.Config, path: Path) -> None:
    """Ask for a file or folder to be swept for secrets when the run ends."""
    config.stash.setdefault(OUTPUT_DIRS_KEY, []).append(path)


def pytest_configure(config: pytest.Config) -> None:
    secrets.register_many(value for name, value in os.environ.items() if secrets.is_secret_name(name))
    logging.getLogger().addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_FILTER)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if not secrets.registered():
        return report
    if report.longrepr is not None:
        text = str(report.longrepr)
        if secrets.redact(text) != text:
            report.longrepr = secrets.redact(text)
    report.sections = [(title, secrets.redact(body)) for title, body in report.sections]
    item.user_properties[:] = [(k, secrets.redact(v) if isinstance(v, str) else v) for k, v in item.user_properties]
    report.user_properties = list(item.user_properties)
    return report


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeFilter(_FILTER)
    for path in config.stash.get(OUTPUT_DIRS_KEY, []):
        sweep(path)


def sweep(path: Path) -> int:
    """Redact every text file under ``path`` in place; returns how many files changed."""
    if not secrets.registered() or not path.exists():
        return 0
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    changed = 0
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        redacted = secrets.redact(text)
        if redacted != text:
            file.write_text(redacted, encoding="utf-8")
            changed += 1
    return changed
