"""Deterministic keyed fakes.

Every fake is a pure function of (secret, kind, original value): the same
original gives the same fake in every table and every run with the same secret,
so joins on faked columns (an email in two tables) still match, and the
mapping cannot be reversed by a dictionary attack without the secret.

The keyed hash is BLAKE2s in keyed (MAC) mode, with one key per fake kind
derived from the secret (so an ``email`` and a ``username`` fake of the same
input are unrelated).  Outputs are built from the 256-bit digest:

* word-list fakes (``first_name``, ``last_name``, ``name``, ``city``,
  ``address``, ``company``, ``postcode``, ``phone``, ``ipv4``, ``text``) look
  natural and may repeat; with ``unique: true`` they carry a 64-bit token;
* ``email``, ``username``, ``url``, ``uuid`` and ``hash`` always carry at least
  64 bits of the digest (uuid: 122), so distinct inputs give distinct outputs
  (collision probability for n values ≈ n² / 2^65: 3·10⁻⁸ for a million);
* every fake respects the column's maximum length; if the length leaves less
  than 64 bits for a fake that must be unique, building the fake fails and names
  the shortfall;
* a fake never returns its own input (it re-derives until it differs), except
  where the input carries no information: the empty string stays empty,
  ``infinity`` dates stay ``infinity``, and a JSON document without strings keeps
  its shape.

``Fakes(secret).make(kind, ...)`` builds one; a fake is called with a str, or
used by the stream engine through :meth:`Fake.apply` on UTF-8 bytes.

The kinds live by what they fake (:mod:`.names`, :mod:`.contact`,
:mod:`.text`, :mod:`.identifiers`, :mod:`.dates`); what they share (keying,
lengths, the uniqueness token) in :mod:`.base`; the word lists in :mod:`.vocab`.
"""
from __future__ import annotations

from hashlib import blake2b, blake2s

from .base import MIN_UNIQUE_BITS, TOKEN_HEX, Fake, FakeError, NaturalFake
from .contact import IPv4, Address, City, Company, Phone, Postcode, Url
from .dates import DateShift
from .identifiers import Hash, Uuid
from .names import Email, FirstName, LastName, Name, Username
from .text import JsonFake, Text

FAKES: dict[str, type[Fake]] = {
    cls.kind: cls
    for cls in (FirstName, LastName, Name, Username, Email, Phone, Address, City, Postcode, Company, Url, IPv4,
                Text, Uuid, Hash, DateShift, JsonFake)
}


class Fakes:
    """The fakes of one secret."""

    def __init__(self, secret: bytes | str):
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        if not secret:
            raise FakeError("an anonymisation secret is required")
        self._master = blake2b(secret, digest_size=32, person=b"heroku-tools-v1").digest()
        self._keys: dict[str, bytes] = {}

    def key(self, kind: str) -> bytes:
        if kind not in self._keys:
            self._keys[kind] = blake2s(kind.encode(), key=self._master, person=b"ht-kind").digest()
        return self._keys[kind]

    def make(self, kind: str, *, max_length: int | None = None, unique: bool = False, pgtype=None,
             **options) -> Fake:
        try:
            cls = FAKES[kind]
        except KeyError:
            raise FakeError(f"unknown fake {kind!r} (known: {', '.join(sorted(FAKES))})") from None
        return cls(self, max_length=max_length, unique=unique, pgtype=pgtype, **options)


__all__ = [
    "FAKES", "MIN_UNIQUE_BITS", "TOKEN_HEX", "Address", "City", "Company", "DateShift", "Email", "Fake", "FakeError",
    "Fakes", "FirstName", "Hash", "IPv4", "JsonFake", "LastName", "Name", "NaturalFake", "Phone", "Postcode", "Text",
    "Url", "Username", "Uuid",
]
