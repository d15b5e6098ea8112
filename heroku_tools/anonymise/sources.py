"""Where a restore's data comes from: the dump source.

:func:`open_dump_source` opens a ``pg_dump -Fc`` archive, a file path or an
http(s) URL.  A URL is streamed from the HTTP response straight into
pg_restore's stdin by a background thread that counts the bytes and checks
them against ``Content-Length``: the raw dump is never written to disk, and a
truncated download is an error, not a short restore.  Query strings (presigned
URL signatures) are dropped from every message.

The target's connection settings come from :func:`heroku_tools.database.libpq_env`
(environment variables, so a password never appears on a command line).
"""
from __future__ import annotations

import os
import re
import subprocess
import threading
import urllib.parse
import urllib.request
from pathlib import Path

from ..trust import ssl_context
from .errors import AnonymiseError, RestoreFailed
from .pipeio import CHUNK, Collector

# -- dump sources -------------------------------------------------------------------------
def open_dump_source(dump) -> FileSource | UrlSource:
    """The source of ``dump``: an http(s) URL, or else a file path."""
    text = os.fspath(dump)
    if text.startswith(("http://", "https://")):
        return UrlSource(text)
    return FileSource(Path(text))


class _Pump(threading.Thread):
    """Copy an HTTP response into a process's stdin; note errors and whether it reached the end."""

    def __init__(self, response, sink, expected: int | None):
        super().__init__(daemon=True, name="dump-download")
        self.response, self.sink, self.expected = response, sink, expected
        self.bytes = 0
        self.error: BaseException | None = None
        self.complete = False
        self.stopping = False

    def run(self):
        try:
            while not self.stopping:
                data = self.response.read(CHUNK)
                if not data:
                    break
                self.bytes += len(data)
                self.sink.write(data)
            else:
                return
            if self.expected is not None and self.bytes != self.expected:
                raise RestoreFailed(f"the download was cut short at {self.bytes:,} of {self.expected:,} bytes")
            self.complete = True
        except BrokenPipeError:
            pass  # the reader stopped (pg_restore exited); its exit status tells why
        except BaseException as exc:  # noqa: BLE001 - reported by check()
            self.error = exc
        finally:
            try:
                self.sink.close()
            except OSError:
                pass


class FileSource:
    """A dump file: pg_restore reads it itself (its path is the last argument)."""

    def __init__(self, path: Path):
        if not path.is_file():
            raise RestoreFailed(f"the dump {path} does not exist")
        self.path = path
        self.size = path.stat().st_size
        self.stdin = subprocess.DEVNULL

    @property
    def args(self) -> list[str]:
        return [str(self.path)]

    def start(self, proc) -> None:
        pass

    def run_to_completion(self, argv, env=None) -> subprocess.CompletedProcess:
        return subprocess.run([*argv, str(self.path)], capture_output=True, stdin=subprocess.DEVNULL, env=env)

    def check(self) -> None:
        pass

    @property
    def bytes_read(self) -> int:
        return self.size

    def close(self) -> None:
        pass


class NoSource:
    """No dump here: the script comes from elsewhere (a dyno's frames, see :mod:`.remote`)."""

    stdin = subprocess.DEVNULL
    args: list[str] = []
    bytes_read = 0

    def start(self, proc) -> None:
        pass

    def check(self) -> None:
        pass

    def close(self) -> None:
        pass


NO_SOURCE = NoSource()


class UrlSource:
    """A dump at an http(s) URL: downloaded into pg_restore's stdin while pg_restore reads it."""

    def __init__(self, url: str):
        self.url = url
        self.stdin = subprocess.PIPE
        self.args: list[str] = []
        self.pump: _Pump | None = None
        self.response = None

    def _open(self):
        try:
            self.response = urllib.request.urlopen(self.url, timeout=60, context=ssl_context())
        except Exception as exc:  # noqa: BLE001
            raise RestoreFailed(f"cannot download the dump: {_redact(str(exc))}") from None
        length = self.response.headers.get("Content-Length")
        return int(length) if length and length.isdigit() else None

    def start(self, proc) -> None:
        expected = self._open()
        self.pump = _Pump(self.response, proc.stdin, expected)
        self.pump.start()

    def run_to_completion(self, argv, env=None) -> subprocess.CompletedProcess:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            self.start(proc)
            out, err = Collector(proc.stdout), Collector(proc.stderr)
            rc = proc.wait()
            return subprocess.CompletedProcess(argv, rc, out.result(), err.result())
        finally:
            self.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def check(self) -> None:
        if self.pump is None:
            return
        self.pump.join()
        if self.pump.error is not None:
            err = self.pump.error
            if isinstance(err, AnonymiseError):
                raise err
            raise RestoreFailed(f"the download of the dump failed: {_redact(str(err))}")
        if not self.pump.complete:
            raise RestoreFailed("the download of the dump did not complete")

    @property
    def bytes_read(self) -> int:
        return self.pump.bytes if self.pump else 0

    def close(self) -> None:
        if self.pump is not None:
            self.pump.stopping = True
        if self.response is not None:
            try:
                self.response.close()
            except Exception:  # noqa: BLE001
                pass
        if self.pump is not None:
            self.pump.join(5)


def _redact(text: str) -> str:
    """Drop query strings (presigned URL signatures) from messages."""
    return re.sub(r"\?[^\s'\"]*", "?…", text)
