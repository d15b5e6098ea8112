"""HTTPS requests to an app's ``web_url`` in the sandbox, verified with the sandbox's CA, and a steady load.

``*.localhost`` names mean this machine (RFC 6761), but Python's resolver does
not know that on most Linux systems: the connection goes to 127.0.0.1 on the
URL's port, with the URL's host name for TLS (SNI, certificate check) and in
``Host``, as a browser or curl would send it.
"""
from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path


class _LocalhostHTTPS(http.client.HTTPSConnection):
    """HTTPS to a ``*.localhost`` host: TCP to 127.0.0.1, TLS and ``Host`` for the name."""

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str


def get(url: str, ca_file: Path, path: str = "/", *, timeout: float = 60, headers: dict | None = None) -> Answer:
    """``GET`` ``path`` of the app at ``url`` (its ``web_url``), trusting only the sandbox's CA."""
    parts = urllib.parse.urlsplit(url)
    context = ssl.create_default_context(cafile=str(ca_file))
    connection = _LocalhostHTTPS(parts.hostname, parts.port, context=context, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode())
    finally:
        connection.close()


@dataclass
class SteadyLoad:
    """Requests one after another (a new connection each) until stopped, every answer kept in order.

    A refused or dropped connection counts as status 0; the load stops by
    itself after ``limit`` seconds, whatever happens to the test.
    """

    url: str
    ca_file: Path
    path: str = "/"
    pause: float = 0.05
    limit: float = 300.0
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(120)

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                self.answers.append(get(self.url, self.ca_file, self.path, timeout=60))
            except (OSError, http.client.HTTPException) as error:
                self.answers.append(Answer(0, {}, str(error)))
            self._stop.wait(self.pause)
