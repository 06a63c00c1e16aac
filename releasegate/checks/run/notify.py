"""Webhook notifications (Slack-compatible ``{"text": ...}``) that never hold up a rollback.

Every message is sent in its own daemon thread with bounded retries; ``send`` returns at once.
``wait`` gives the pending messages at most ``timeout_s`` more (used at the end of a run so that
the final message leaves before the process exits). A webhook that is down costs a rollback
nothing; a run's end costs at most ``timeout_s``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from releasegate.checks import secrets


@dataclass
class Delivery:
    text: str
    attempts: int = 0
    delivered: bool = False
    error: str = ""
    done: threading.Event = field(default_factory=threading.Event)


class Notifier:
    def __init__(self, webhook_url: str | None, *, timeout_s: float = 3, retries: int = 2,
                 channel: str | None = None, on_result: Callable[[Delivery], None] | None = None) -> None:
        self.webhook_url = webhook_url
        self.timeout_s = timeout_s
        self.retries = retries
        self.channel = channel
        self.on_result = on_result
        self.deliveries: list[Delivery] = []

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url)

    def payload(self, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {"text": secrets.redact(text)}
        if self.channel:
            body["channel"] = self.channel
        return body

    def send(self, text: str) -> Delivery | None:
        """Start sending ``text``; never blocks. None when no webhook is configured."""
        if not self.webhook_url:
            return None
        delivery = Delivery(secrets.redact(text))
        self.deliveries.append(delivery)
        thread = threading.Thread(target=self._deliver, args=(delivery,), name="releasegate-notify", daemon=True)
        thread.start()
        return delivery

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for pending deliveries, at most ``timeout_s`` (default: the configured timeout) in all."""
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        for delivery in self.deliveries:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not delivery.done.wait(remaining):
                return False
        return True

    def _deliver(self, delivery: Delivery) -> None:
        assert self.webhook_url is not None
        body = json.dumps(self.payload(delivery.text)).encode("utf-8")
        deadline = time.monotonic() + self.timeout_s * (self.retries + 1)
        try:
            for attempt in range(self.retries + 1):
                delivery.attempts = attempt + 1
                request = urllib.request.Request(self.webhook_url, data=body, method="POST",
                                                 headers={"Content-Type": "application/json"})
                try:
                    timeout = max(0.1, min(self.timeout_s, deadline - time.monotonic()))
                    with urllib.request.urlopen(request, timeout=timeout) as response:
                        if 200 <= response.status < 300:
                            delivery.delivered = True
                            return
                        delivery.error = f"HTTP {response.status}"
                except urllib.error.HTTPError as exc:
                    delivery.error = f"HTTP {exc.code}"
                except (urllib.error.URLError, OSError, ValueError) as exc:
                    delivery.error = secrets.redact(str(getattr(exc, "reason", exc)))
                pause = min(0.2 * 2**attempt, 1.0)
                if attempt == self.retries or time.monotonic() + pause >= deadline:
                    return
                time.sleep(pause)
        finally:
            delivery.done.set()
            if self.on_result is not None:
                with contextlib.suppress(Exception):  # a report about a notification must never break anything
                    self.on_result(delivery)
