"""The registry of secret values, and the redaction applied to everything we write."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

MASK = "*****"

_SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@")

_lock = threading.Lock()
_secrets: set[str] = set()


def is_secret_name(name: str) -> bool:
    """Variables named like *KEY*, *SECRET*, *TOKEN*, *PASSWORD* hold secrets."""
    return bool(_SECRET_NAME.search(name))


def register(value: str | None) -> None:
    """Remember a value so that every later ``redact`` masks it.

    Very short values are not registered: masking every "1" or "on" would ruin the report
    without protecting anything.
    """
    if not value or len(value) < 4:
        return
    with _lock:
        _secrets.add(value)
    for password in url_passwords(value):
        register(password)


def register_many(values: Iterable[str | None]) -> None:
    for value in values:
        register(value)


def url_passwords(text: str) -> list[str]:
    return [m.group("password") for m in _URL_PASSWORD.finditer(text)]


def registered() -> frozenset[str]:
    with _lock:
        return frozenset(_secrets)


def clear() -> None:
    with _lock:
        _secrets.clear()


def redact(text: str) -> str:
    """Mask every registered secret and every password written inside a URL."""
    if not text:
        return text
    with _lock:
        values = sorted(_secrets, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{MASK}@", text)
