"""The one HTTP client of releasegate: httpx, with connection retries in the transport.

Every module that speaks HTTP (preflight endpoint checks, Prometheus, webhooks, the prober,
version endpoints of a deployment) builds its client here, so timeouts, retries and the user
agent are the same everywhere. Retries cover failures to connect only (httpx's transport
``retries``); a request that reached the server is never sent twice.
"""

from __future__ import annotations

import json
import ssl
from typing import Any

# httpx imports httpcore lazily and maps its exceptions through a table built on first use; a
# process that drops and re-imports httpcore (pytest's in-process runs restore sys.modules) would
# then see unmapped httpcore errors. Importing it with this module keeps one httpcore for good.
import httpcore  # noqa: F401
import httpx

USER_AGENT = "releasegate"
"""The user agent of every request releasegate sends (probes, checks, notifications)."""

CONNECT_RETRIES = 2


def client(*, timeout_s: float = 10.0, retries: int = CONNECT_RETRIES, verify: bool | str = True,
           follow_redirects: bool = False, headers: dict[str, str] | None = None) -> httpx.Client:
    """A new client; use it as a context manager (``with http.client() as c: ...``).

    ``verify``: True (certifi's CAs, or SSL_CERT_FILE / SSL_CERT_DIR when set), False, or the path of a CA file.
    """
    context: bool | ssl.SSLContext = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
    transport = httpx.HTTPTransport(retries=retries, verify=context)
    return httpx.Client(transport=transport, timeout=timeout_s, follow_redirects=follow_redirects,
                        headers={"User-Agent": USER_AGENT, **(headers or {})})


def get_json(url: str, timeout_s: float = 2.0) -> Any:
    """GET ``url`` and decode its JSON body; None when it cannot be reached or is not JSON."""
    try:
        with client(timeout_s=timeout_s, retries=0) as c:
            response = c.get(url)
        return response.json()
    except (httpx.HTTPError, json.JSONDecodeError, ValueError):
        return None


def post_json(url: str, payload: Any, timeout_s: float = 5.0) -> httpx.Response:
    """POST ``payload`` as JSON; raises ``httpx.HTTPError`` when the request fails."""
    with client(timeout_s=timeout_s) as c:
        return c.post(url, json=payload)
