"""People's names, and the usernames and emails made from them."""
from __future__ import annotations

import re
from binascii import hexlify as _hexlify

from .base import TOKEN_HEX, Fake, FakeError, NaturalFake, u16
from .vocab import FIRST_NAMES as _FIRST
from .vocab import LAST_NAMES as _LAST

_FIRST_L = [w.lower() for w in _FIRST]
_LAST_L = [w.lower() for w in _LAST]


class _WordFake(NaturalFake):
    """A word from ``words``, picked by two bytes of the digest at ``offset``.

    First and last names read different bytes, so the same person's two
    names vary independently.
    """

    words: list[bytes] = []
    offset = 0

    def fast(self):
        if self.unique:
            return self.apply
        words, n, i = self.words, len(self.words), self.offset
        return self._fast_from(lambda d, v: words[(d[i] | d[i + 1] << 8) % n])

    def natural(self, d, v):
        return self.words[u16(d, self.offset) % len(self.words)]


class FirstName(_WordFake):
    kind = "first_name"
    words = _FIRST
    offset = 0


class LastName(_WordFake):
    kind = "last_name"
    words = _LAST
    offset = 2


class Name(NaturalFake):
    kind = "name"

    def natural(self, d, v):
        return _FIRST[u16(d, 0) % len(_FIRST)] + b" " + _LAST[u16(d, 2) % len(_LAST)]


class _DottedName(Fake):
    """``first.last.token`` and a fixed ``suffix`` (none for a username, ``@domain`` for an email): always unique."""

    always_unique = True
    suffix = b""

    def bits(self):
        return self._token_bits(fixed=len(self.suffix))

    def fast(self):
        longest = max(map(len, _FIRST_L)) + max(map(len, _LAST_L)) + 2 + TOKEN_HEX + len(self.suffix)
        if self.max_length is not None and self.max_length < longest:
            return self.apply
        first, last, nf, nl, hexlify = _FIRST_L, _LAST_L, len(_FIRST_L), len(_LAST_L), _hexlify
        template = b"%s.%s.%s" + self.suffix.replace(b"%", b"%%")
        keyed, slow = self._keyed, self.apply

        def fast(v: bytes) -> bytes:  # apply() and make() inlined: this runs once per row
            if not v:
                return v
            h = keyed.copy()
            h.update(v)
            d = h.digest()
            out = template % (first[(d[0] | d[1] << 8) % nf], last[(d[2] | d[3] << 8) % nl], hexlify(d[16:24]))
            return slow(v) if out == v else out
        return fast


class Username(_DottedName):
    kind = "username"

    def make(self, d, v):
        base = _FIRST_L[u16(d, 0) % len(_FIRST_L)] + b"." + _LAST_L[u16(d, 2) % len(_LAST_L)]
        return self._with_token(base, d, b".")


class Email(_DottedName):
    kind = "email"
    option_names = ("domain",)

    def configure(self):
        domain = self.options.get("domain", "example.com")
        if not isinstance(domain, str) or not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?", domain) \
                or "." not in domain:
            raise FakeError(f"fake 'email': domain {domain!r} is not a domain name")
        self.domain = self.suffix = b"@" + domain.lower().encode()
        self.min_length = len(self.domain) + 1
        if self.max_length is not None and self.max_length < self.min_length:
            raise FakeError(f"fake 'email' needs at least {self.min_length} characters for @{domain}, "
                            f"the column allows {self.max_length}")

    def make(self, d, v):
        token = _hexlify(d[16:24])
        domain = self.domain
        base = _FIRST_L[u16(d, 0) % len(_FIRST_L)] + b"." + _LAST_L[u16(d, 2) % len(_LAST_L)]
        if self.max_length is None:
            return base + b"." + token + domain
        room = self.max_length - len(domain) - len(token) - 1
        if room <= 0:
            return token[: self.max_length - len(domain)] + domain
        return base[:room].rstrip(b".") + b"." + token + domain
