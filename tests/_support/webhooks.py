"""A real local HTTP server standing in for Slack and JSON webhook receivers.

Each :class:`Receiver` listens on 127.0.0.1 (a free port) and records every
POST it gets — path, headers, parsed JSON body and the wall-clock time it
arrived — then answers with ``status`` after ``delay`` seconds, so a test can
play a healthy receiver, a failing one (500) and one that hangs.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, *, status: int = 200, delay: float = 0.0):
        self.status, self.delay = status, delay
        self.received: list[dict] = []
        self._arrived = threading.Condition()
        self._stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._arrived:
                    receiver.received.append({
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(body),
                        "at": time.time(),
                    })
                    receiver._arrived.notify_all()
                if receiver._stopping.wait(receiver.delay):
                    return
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/services/T000/B000/s3cr3t-t0ken") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self) -> list[dict]:
        return [request["body"] for request in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        """The first ``count`` requests, waiting up to ``timeout`` seconds for them."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def clear(self) -> None:
        with self._arrived:
            self.received.clear()

    def close(self) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()
