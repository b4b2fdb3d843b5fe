"""An HTTP receiver on loopback for webhooks and apprise's json:// notifications: records every POST
(headers, body, what it answered); can answer 500 to the first N, or never answer at all."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int
    at_s: float = field(default_factory=time.monotonic)


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fail_first: int = 0, hang: bool = False, delay_s: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fail_first, self.hang, self.delay_s = fail_first, hang, delay_s
        self.posts: list[Posted] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def delivered(self) -> list[Posted]:
        with self.lock:
            return [p for p in self.posts if 200 <= p.answered < 300]

    def close(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, *_args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.server.hang:  # takes the request, never answers
            with self.server.lock:
                self.server.posts.append(Posted(self.path, dict(self.headers), body, 0))
            self.server.release.wait(120)
            return
        if self.server.delay_s:  # a slow receiver: each delivery is in flight this long
            self.server.release.wait(self.server.delay_s)
        with self.server.lock:
            failing = self.server.fail_first > 0
            self.server.fail_first -= 1 if failing else 0
            answer = 500 if failing else 200
            self.server.posts.append(Posted(self.path, dict(self.headers), body, answer))
        self.send_response(answer)
        self.send_header("Content-Length", "0")
        self.end_headers()
