"""The lines a dyno's engine writes to its stdout, and their decoding on this side.

Everything the engine says is one line ``ht-engine:KIND PAYLOAD``: text only,
as the heroku CLI passes a dyno's output through as text (turning CRLF into
LF, and matching its exit-status sentinel in every chunk). Any other line —
the CLI's own, the shell's, a warning of the app's Python — is not the
engine's and is never taken for data.

Kinds: ``hello`` (JSON: the engine's version, the database it will load),
``progress`` (JSON: a :class:`~.restore.Progress`), ``data`` (emit mode: a
piece of the SQL script, zlib-compressed on one stream with a sync flush per
frame, then base64), ``end`` (emit mode, JSON: the script's length and
SHA-256), ``verdict`` (JSON: ``{"ok": true, "result": {...}}`` or ``{"ok":
false, "error": CLASS, "message": ...}``), always last.
"""
from __future__ import annotations

import base64
import hashlib
import json
import zlib

PREFIX = "ht-engine:"
KINDS = ("hello", "progress", "data", "end", "verdict")


def frame(kind: str, payload) -> bytes:
    """One line: ``payload`` as it is (bytes, text) or as compact JSON (anything else)."""
    if isinstance(payload, bytes):
        text = payload.decode("ascii")
    elif isinstance(payload, str):
        text = payload
    else:
        text = json.dumps(payload, separators=(",", ":"))
    return f"{PREFIX}{kind} {text}\n".encode("ascii")


def parse(line: str) -> tuple[str, str] | None:
    """``(kind, payload)`` of an engine's line; None for any other line."""
    line = line.rstrip("\r\n")
    if not line.startswith(PREFIX):
        return None
    kind, _, payload = line[len(PREFIX):].partition(" ")
    return (kind, payload) if kind in KINDS else None


class Encoder:
    """Script pieces into ``data`` frames: one zlib stream, flushed at each frame, so each frame decodes whole."""

    def __init__(self):
        self.compressor = zlib.compressobj(6)
        self.digest = hashlib.sha256()
        self.length = 0

    def encode(self, data: bytes) -> bytes:
        self.digest.update(data)
        self.length += len(data)
        packed = self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        return frame("data", base64.b64encode(packed))

    def end(self) -> bytes:
        return frame("end", {"bytes": self.length, "sha256": self.digest.hexdigest()})


class Decoder:
    """``data`` frames back into the script, counted and hashed, to compare with the ``end`` frame."""

    def __init__(self):
        self.decompressor = zlib.decompressobj()
        self.digest = hashlib.sha256()
        self.length = 0

    def decode(self, payload: str) -> bytes:
        data = self.decompressor.decompress(base64.b64decode(payload, validate=True))
        self.digest.update(data)
        self.length += len(data)
        return data

    def matches(self, end: dict) -> bool:
        """Whether what was decoded is exactly the script the engine says it sent."""
        return end.get("bytes") == self.length and end.get("sha256") == self.digest.hexdigest()
