"""A local stand-in for a chat webhook: accepts JSON POSTs and appends them to a file.

    python -m releasegate.localstack.webhook_sink --listen 127.0.0.1:18950 --out reports/webhooks.jsonl

The local seed runbooks point ``notifications.webhook_url`` at it, so "the team is notified"
can be shown on a machine with no network. Every message is one JSON line in the output file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_lock = threading.Lock()


def make_server(listen: str, out: Path) -> ThreadingHTTPServer:
    host, _, port = listen.rpartition(":")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            try:
                message = json.loads(body or b"null")
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            with _lock:
                out.parent.mkdir(parents=True, exist_ok=True)
                with out.open("a", encoding="utf-8") as file:
                    file.write(json.dumps({"path": self.path, "message": message}) + "\n")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            return

    return ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:18950")
    parser.add_argument("--out", default="reports/webhooks.jsonl")
    options = parser.parse_args(argv)
    server = make_server(options.listen, Path(options.out))
    print(f"webhook sink on http://{options.listen}/, writing {options.out}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
