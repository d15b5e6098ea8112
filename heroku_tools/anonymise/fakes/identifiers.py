"""Identifiers: a random-looking UUID, and the keyed hash itself."""
from __future__ import annotations

import uuid as _uuid
from binascii import hexlify

from .base import Fake, FakeError


class Uuid(Fake):
    kind = "uuid"
    types = ("text", "uuid")
    always_unique = True
    min_length = 36

    def bits(self):
        return 122.0

    def make(self, d, v):
        return str(_uuid.UUID(bytes=d[:16], version=4)).encode()


class Hash(Fake):
    """The keyed hash itself: hex (text, default 32 characters = 128 bits), a UUID (uuid) or bytes (bytea)."""

    kind = "hash"
    types = ("text", "uuid", "bytea")
    always_unique = True
    option_names = ("length",)

    def configure(self):
        category = self.pgtype.category if self.pgtype is not None else "text"
        self.mode = category if category in ("uuid", "bytea") else "text"
        length = self.options.get("length", 32)
        if not isinstance(length, int) or not 1 <= length <= 64:
            raise FakeError("hash: length must be an integer from 1 to 64")
        if self.max_length is not None:
            length = min(length, self.max_length)
        self.length = length
        self.copy_safe = self.mode != "bytea"

    def bits(self):
        return {"uuid": 122.0, "bytea": 128.0}.get(self.mode, 4.0 * self.length)

    def make(self, d, v):
        if self.mode == "uuid":
            return str(_uuid.UUID(bytes=d[:16], version=4)).encode()
        if self.mode == "bytea":
            return b"\\x" + hexlify(d[:16])
        return hexlify(d)[: self.length]
