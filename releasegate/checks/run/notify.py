"""Messages to the team's webhook (Slack-compatible ``{"text": ...}``), sent through ``_support.http``.

``Notifier`` never holds up a rollback: every message is sent in its own daemon thread with
bounded retries and ``send`` returns at once. ``wait`` gives the pending messages at most
``timeout_s`` more (used at the end of a run so that the final message leaves before the process
exits). A webhook that is down costs a rollback nothing; a run's end costs at most ``timeout_s``.

``notify_team`` is the checklist line ("notify team in Slack #deployments"): the message is sent
and the verdict waits for the delivery.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from releasegate.checks import secrets
from releasegate.checks._support.http import client as http_client
from releasegate.checks.result import CheckResult


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
        deadline = time.monotonic() + self.timeout_s * (self.retries + 1)
        try:
            # retries=0 in the transport: this loop retries every failure, a 5xx answer too, within one deadline
            with http_client(timeout_s=self.timeout_s, retries=0, follow_redirects=True) as client:
                for attempt in range(self.retries + 1):
                    delivery.attempts = attempt + 1
                    timeout = max(0.1, min(self.timeout_s, deadline - time.monotonic()))
                    try:
                        response = client.post(self.webhook_url, json=self.payload(delivery.text), timeout=timeout)
                        if response.is_success:
                            delivery.delivered = True
                            return
                        delivery.error = f"HTTP {response.status_code}"
                    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
                        delivery.error = secrets.redact(str(exc))
                    pause = min(0.2 * 2**attempt, 1.0)
                    if attempt == self.retries or time.monotonic() + pause >= deadline:
                        return
                    time.sleep(pause)
        finally:
            delivery.done.set()
            if self.on_result is not None:
                with contextlib.suppress(Exception):  # a report about a notification must never break anything
                    self.on_result(delivery)


def notify_team(webhook_url: str | None, channel: str, text: str, *, timeout_s: float = 3,
                retries: int = 2) -> CheckResult:
    """Send ``text`` to ``channel`` through the webhook; PASS once the webhook answered 2xx."""
    check = f"team notified in {channel}"
    if not webhook_url:
        return CheckResult.fail(check, "no webhook configured", "a delivered message",
                                detail="set notifications.webhook_url in the runbook (a ${VAR} for the secret URL)")
    notifier = Notifier(webhook_url, timeout_s=timeout_s, retries=retries, channel=channel)
    delivery = notifier.send(text)
    assert delivery is not None
    notifier.wait(timeout_s * (retries + 1) + 1)
    evidence = {"channel": channel, "text": secrets.redact(text), "attempts": delivery.attempts,
                "webhook": secrets.redact(webhook_url)}
    if delivery.delivered:
        return CheckResult.ok(check, "delivered", "a delivered message", evidence=evidence)
    return CheckResult.fail(check, f"not delivered: {delivery.error or 'no answer'}", "a delivered message",
                            evidence=evidence)
