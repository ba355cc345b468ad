"""A local stand-in for Slack's incoming webhooks: an HTTP server on 127.0.0.1 that takes
what Slack's documented webhook takes (a JSON POST with `text`, answered `ok`), records each
message, and can be told to answer as Slack does for a removed webhook (404 `no_service`)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SlackReceiver:
    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.paths: list[str] = []
        self.answer: tuple[int, str] = (200, "ok")
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, text = receiver.answer
                if status == 200:
                    receiver.messages.append(json.loads(body))
                    receiver.paths.append(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def webhook(self, name: str = "T000/B000/secretXYZ") -> str:
        return f"{self.base}services/{name}"

    def __enter__(self) -> SlackReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
