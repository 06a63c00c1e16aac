"""Tell the team: a message to the runbook's webhook (Slack-compatible), delivered or not.

The rollback plugin's notifier never waits; a checklist line such as "notify team in Slack
#deployments" is a check, so here the message is sent and the verdict waits for the delivery.
"""

from __future__ import annotations

from releasegate.checks import secrets
from releasegate.checks.result import CheckResult
from releasegate.checks.run.notify import Notifier


def notify(webhook_url: str | None, channel: str, text: str, *, timeout_s: float = 3, retries: int = 2) -> CheckResult:
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
