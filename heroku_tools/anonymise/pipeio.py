"""Threads that move bytes to and from the restore's child processes.

* :class:`Collector` reads a pipe to the end in the background (pg_restore's
  and psql's stderr, psql's stdout), so a child never blocks on a full pipe;
* :class:`Writer` feeds psql's stdin from a bounded queue, so the stream goes
  on rewriting while the server is busy;
* :func:`set_pipe_size` widens a pipe (Linux) so fewer, larger reads and
  writes cross it.
"""
from __future__ import annotations

import collections
import fcntl
import os
import threading

CHUNK = 1 << 20
_F_SETPIPE_SZ = 1031  # Linux


class Collector(threading.Thread):
    """Read a pipe to the end in the background (bounded: keeps the last ``limit`` bytes)."""

    def __init__(self, pipe, limit: int = 1 << 20):
        super().__init__(daemon=True)
        self.pipe, self.limit = pipe, limit
        self.chunks: list[bytes] = []
        self.size = 0
        self.start()

    def run(self):
        try:
            while True:
                data = self.pipe.read1(65536) if hasattr(self.pipe, "read1") else self.pipe.read(65536)
                if not data:
                    break
                self.chunks.append(data)
                self.size += len(data)
                while self.size > self.limit and len(self.chunks) > 1:
                    self.size -= len(self.chunks.pop(0))
        except (OSError, ValueError):
            pass

    def result(self, timeout: float | None = 10) -> bytes:
        self.join(timeout)
        return b"".join(self.chunks)

    def text(self, timeout: float | None = 10) -> str:
        return self.result(timeout).decode("utf-8", "replace")


class Writer(threading.Thread):
    """Feed psql's stdin from a bounded in-memory queue, so rewriting goes on while the server is busy
    (building the indexes of the previous table, say).  ``put`` blocks while ``limit`` bytes are queued."""

    def __init__(self, pipe, limit: int):
        super().__init__(daemon=True, name="psql-writer")
        self.fd = pipe.fileno()
        self.limit = limit
        self.queue: collections.deque = collections.deque()
        self.pending = 0
        self.cv = threading.Condition()
        self.closed = False
        self.aborted = False
        self.failed = False
        self.start()

    def put(self, pieces) -> bool:
        """Queue pieces; False if the pipe broke (psql is gone)."""
        with self.cv:
            while self.pending > self.limit and not self.failed and not self.aborted:
                self.cv.wait()
            if self.failed or self.aborted:
                return False
            for piece in pieces:
                if piece:
                    self.queue.append(piece)
                    self.pending += len(piece)
            self.cv.notify_all()
        return True

    def drain(self) -> bool:
        """Wait until everything queued is written; False if the pipe broke."""
        with self.cv:
            self.closed = True
            self.cv.notify_all()
        self.join()
        return not self.failed and not self.aborted

    def abort(self) -> None:
        with self.cv:
            self.aborted = True
            self.queue.clear()
            self.cv.notify_all()

    def run(self):
        while True:
            with self.cv:
                while not self.queue and not self.closed and not self.aborted:
                    self.cv.wait()
                if self.aborted or not self.queue:
                    return
                piece = self.queue.popleft()
            try:
                view = memoryview(piece)
                while view:
                    if self.aborted:
                        return
                    written = os.write(self.fd, view)
                    view = view[written:]
            except OSError:
                with self.cv:
                    self.failed = True
                    self.queue.clear()
                    self.cv.notify_all()
                return
            with self.cv:
                self.pending -= len(piece)
                self.cv.notify_all()


def set_pipe_size(fileobj, size: int = CHUNK) -> None:
    try:
        fcntl.fcntl(fileobj.fileno(), _F_SETPIPE_SZ, size)
    except (OSError, ValueError, AttributeError):
        pass
