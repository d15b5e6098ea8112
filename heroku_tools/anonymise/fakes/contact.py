"""Contact details: phone numbers, postal addresses, companies, URLs, IP addresses."""
from __future__ import annotations

import math
from binascii import hexlify

from .base import Fake, NaturalFake, u16
from .vocab import CITIES as _CITIES
from .vocab import COMPANY_SUFFIXES as _COMPANY
from .vocab import LAST_NAMES as _LAST
from .vocab import STREET_SUFFIXES as _SUFFIXES
from .vocab import STREETS as _STREETS

_UPPER = b"ABCDEFGHJKLMNPRSTUVWXY"


class Phone(Fake):
    """``+1555`` and seven digits (may repeat); unique: ``+`` and twenty digits (66 bits)."""

    kind = "phone"
    min_length = 4

    def bits(self):
        if not self.unique:
            return 0.0
        digits = 20 if self.max_length is None else min(20, self.max_length - 1)
        return digits * math.log2(10)

    def make(self, d, v):
        if self.unique:
            digits = 20 if self.max_length is None else min(20, self.max_length - 1)
            n = int.from_bytes(d[:12], "little") % (10 ** digits)
            return b"+" + str(n).zfill(digits).encode()
        return self._fit(self._natural(d, v))

    @staticmethod
    def _natural(d: bytes, v: bytes) -> bytes:
        return b"+1555%07d" % (int.from_bytes(d[:4], "little") % 10_000_000)

    def fast(self):
        return self.apply if self.unique else self._fast_from(self._natural)


class Address(NaturalFake):
    kind = "address"
    separator = b", "

    def natural(self, d, v):
        return b"%d %s %s, %s" % (
            1 + u16(d, 0) % 299,
            _STREETS[u16(d, 2) % len(_STREETS)],
            _SUFFIXES[d[4] % len(_SUFFIXES)],
            _CITIES[u16(d, 5) % len(_CITIES)],
        )


class City(NaturalFake):
    kind = "city"

    def natural(self, d, v):
        return _CITIES[u16(d, 5) % len(_CITIES)]


class Postcode(NaturalFake):
    """UK-shaped: ``AB1 2CD``."""

    kind = "postcode"

    def natural(self, d, v):
        u = _UPPER
        return bytes((u[d[0] % 22], u[d[1] % 22], 48 + d[2] % 10, 32, 48 + d[3] % 10, u[d[4] % 22], u[d[5] % 22]))


class Company(NaturalFake):
    kind = "company"

    def natural(self, d, v):
        return _LAST[u16(d, 2) % len(_LAST)] + b" " + _COMPANY[d[6] % len(_COMPANY)]


class Url(Fake):
    kind = "url"
    always_unique = True
    min_length = len("https://example.com/u/") + 16

    def bits(self):
        return self._token_bits(fixed=len("https://example.com/u/"))

    def make(self, d, v):
        out = b"https://example.com/u/" + hexlify(d[16:32])
        return out if self.max_length is None else out[: self.max_length]


class IPv4(Fake):
    """An address in the documentation ranges (RFC 5737); valid for inet and text."""

    kind = "ipv4"
    types = ("text", "inet")
    can_be_unique = False
    min_length = 15
    _NETS = (b"192.0.2.", b"198.51.100.", b"203.0.113.")

    def make(self, d, v):
        return self._NETS[d[0] % 3] + str(1 + d[1] % 254).encode()
