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
"""
from __future__ import annotations

import binascii
import datetime as _dt
import json
import math
import re
import uuid as _uuid
from hashlib import blake2b, blake2s

from . import vocab

MIN_UNIQUE_BITS = 64
TOKEN_HEX = 16  # 64 bits

_FIRST = [w.encode() for w in vocab.FIRST_NAMES]
_LAST = [w.encode() for w in vocab.LAST_NAMES]
_FIRST_L = [w.lower() for w in _FIRST]
_LAST_L = [w.lower() for w in _LAST]
_STREETS = [w.encode() for w in vocab.STREETS]
_SUFFIXES = [w.encode() for w in vocab.STREET_SUFFIXES]
_CITIES = [w.encode() for w in vocab.CITIES]
_COMPANY = [w.encode() for w in vocab.COMPANY_SUFFIXES]
_LOREM = [w.encode() for w in vocab.LOREM]
_UPPER = b"ABCDEFGHJKLMNPRSTUVWXY"
_hexlify = binascii.hexlify


class FakeError(ValueError):
    """A fake cannot be built for these options, or cannot handle a value."""


def _u16(d: bytes, i: int) -> int:
    return d[i] | (d[i + 1] << 8)


class Fake:
    """One configured fake.  Subclasses implement :meth:`make`."""

    kind = ""
    #: column type categories (see :mod:`pgtypes`) this fake produces valid values for
    types: tuple = ("text",)
    #: outputs always carry ≥ 64 bits (or the fake refuses to be built)
    always_unique = False
    #: a ``unique: true`` variant exists
    can_be_unique = True
    #: outputs never contain characters that COPY text must escape
    copy_safe = True
    #: options accepted in the rules (besides ``unique``)
    option_names: tuple = ()
    #: the fake must return something different from its input
    must_differ = True
    #: minimum max_length to produce anything sensible
    min_length = 1
    #: can raise FakeError on some input (parsing fakes)
    may_fail = False

    def __init__(self, fakes: Fakes, *, max_length: int | None = None, unique: bool = False,
                 pgtype=None, **options):
        unknown = set(options) - set(self.option_names)
        if unknown:
            raise FakeError(f"fake {self.kind!r} has no option(s) {', '.join(sorted(unknown))}")
        if unique and not (self.can_be_unique or self.always_unique):
            raise FakeError(f"fake {self.kind!r} cannot keep a unique column unique; use hash or another fake")
        if max_length is not None and max_length < self.min_length:
            raise FakeError(f"fake {self.kind!r} needs at least {self.min_length} characters, "
                            f"the column allows {max_length}")
        self.fakes = fakes
        self.key = fakes.key(self.kind)
        self._keyed = blake2s(key=self.key)  # copied per value: cheaper than keying anew (same digest)
        self.max_length = max_length
        self.unique = bool(unique) or self.always_unique
        self.pgtype = pgtype
        self.options = options
        self.configure()
        if unique and self.bits() < MIN_UNIQUE_BITS:
            # asked for a unique column: the outputs must carry enough of the keyed hash
            raise FakeError(
                f"fake {self.kind!r} keeps only {self.bits():.0f} bits of the keyed hash in "
                f"{max_length} characters; a unique column needs {MIN_UNIQUE_BITS}: the column is too short"
            )

    # -- to override -----------------------------------------------------------
    def configure(self) -> None:
        """Validate options, precompute."""

    def bits(self) -> float:
        """Bits of keyed hash that distinguish outputs (for the uniqueness guarantee)."""
        return 0.0

    def make(self, d: bytes, v: bytes) -> bytes:
        raise NotImplementedError

    # -- use -------------------------------------------------------------------
    @property
    def cacheable(self) -> bool:
        """Worth caching original → fake in a stream (repeating values, cheap memory)."""
        return not self.unique

    def apply(self, v: bytes) -> bytes:
        """Original value as UTF-8 bytes → fake as UTF-8 bytes (not COPY-escaped)."""
        if not v and self.must_differ:
            return v
        key = self.key
        h = self._keyed.copy()
        h.update(v)
        d = h.digest()
        out = self.make(d, v)
        if out == v and self.must_differ:
            for _ in range(16):
                d = blake2s(d, key=key).digest()
                out = self.make(d, v)
                if out != v:
                    break
            else:  # pragma: no cover - would need 16 consecutive coincidences
                raise FakeError(f"fake {self.kind!r} could not produce a value different from its input")
        return out

    def fast(self):
        """A function equivalent to :meth:`apply`, possibly specialised for speed (the stream calls it per value)."""
        return self.apply

    def _fast_from(self, build):
        """Specialise ``apply`` for a ``build(d) -> bytes`` that needs no length handling."""
        keyed, slow = self._keyed, self.apply

        def fast(v: bytes) -> bytes:
            if not v:
                return slow(v)
            h = keyed.copy()
            h.update(v)
            out = build(h.digest())
            return slow(v) if out == v else out
        return fast

    def __call__(self, value: str) -> str:
        return self.apply(value.encode("utf-8")).decode("utf-8")

    # -- helpers ---------------------------------------------------------------
    def _fit(self, text: bytes) -> bytes:
        """Clip a natural (non-unique) value to the column's length."""
        if self.max_length is not None and len(text) > self.max_length:
            return text[: self.max_length].rstrip(b" ") or text[: self.max_length]
        return text

    def _with_token(self, base: bytes, d: bytes, sep: bytes = b" ") -> bytes:
        """``base SEP token``, base shortened so the whole fits; the token keeps its 64 bits if it can."""
        token = _hexlify(d[16:24])
        if self.max_length is None:
            return base + sep + token
        room = self.max_length - len(token) - len(sep)
        if room <= 0:
            return token[: self.max_length]
        return base[:room] + sep + token

    def _token_bits(self, fixed: int = 0, sep: int = 1) -> float:
        """Bits of a hex token when ``fixed`` characters are taken by fixed text."""
        if self.max_length is None:
            return TOKEN_HEX * 4
        return 4 * max(0, min(TOKEN_HEX, self.max_length - fixed))


# -- names -------------------------------------------------------------------------
class _WordFake(Fake):
    """A word from ``words``, picked by two bytes of the digest at ``offset``.

    First and last names read different bytes, so the same person's two
    names vary independently.
    """

    words: list[bytes] = []
    offset = 0

    def bits(self):
        return self._token_bits() if self.unique else 0.0

    def fast(self):
        if self.unique or (self.max_length is not None and self.max_length < max(map(len, self.words))):
            return self.apply
        words, n, i = self.words, len(self.words), self.offset
        return self._fast_from(lambda d: words[(d[i] | d[i + 1] << 8) % n])

    def make(self, d, v):
        out = self.words[_u16(d, self.offset) % len(self.words)]
        return self._with_token(out, d) if self.unique else self._fit(out)


class FirstName(_WordFake):
    kind = "first_name"
    words = _FIRST
    offset = 0


class LastName(_WordFake):
    kind = "last_name"
    words = _LAST
    offset = 2


class Name(Fake):
    kind = "name"

    def bits(self):
        return self._token_bits() if self.unique else 0.0

    def make(self, d, v):
        out = _FIRST[_u16(d, 0) % len(_FIRST)] + b" " + _LAST[_u16(d, 2) % len(_LAST)]
        return self._with_token(out, d) if self.unique else self._fit(out)


class Username(Fake):
    kind = "username"
    always_unique = True

    def bits(self):
        return self._token_bits()

    def fast(self):
        longest = max(map(len, _FIRST_L)) + max(map(len, _LAST_L)) + 2 + TOKEN_HEX
        if self.max_length is not None and self.max_length < longest:
            return self.apply
        first, last, nf, nl, hexlify = _FIRST_L, _LAST_L, len(_FIRST_L), len(_LAST_L), _hexlify
        keyed, slow = self._keyed, self.apply

        def fast(v: bytes) -> bytes:  # apply() and make() inlined: this runs once per row
            if not v:
                return v
            h = keyed.copy()
            h.update(v)
            d = h.digest()
            out = b"%s.%s.%s" % (first[(d[0] | d[1] << 8) % nf], last[(d[2] | d[3] << 8) % nl], hexlify(d[16:24]))
            return slow(v) if out == v else out
        return fast

    def make(self, d, v):
        base = _FIRST_L[_u16(d, 0) % len(_FIRST_L)] + b"." + _LAST_L[_u16(d, 2) % len(_LAST_L)]
        return self._with_token(base, d, b".")


class Email(Fake):
    kind = "email"
    always_unique = True
    option_names = ("domain",)

    def configure(self):
        domain = self.options.get("domain", "example.com")
        if not isinstance(domain, str) or not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?", domain) \
                or "." not in domain:
            raise FakeError(f"fake 'email': domain {domain!r} is not a domain name")
        self.domain = b"@" + domain.lower().encode()
        self.min_length = len(self.domain) + 1
        if self.max_length is not None and self.max_length < self.min_length:
            raise FakeError(f"fake 'email' needs at least {self.min_length} characters for @{domain}, "
                            f"the column allows {self.max_length}")

    def bits(self):
        return self._token_bits(fixed=len(self.domain))

    def fast(self):
        longest = max(map(len, _FIRST_L)) + max(map(len, _LAST_L)) + 2 + TOKEN_HEX + len(self.domain)
        if self.max_length is not None and self.max_length < longest:
            return self.apply
        first, last, nf, nl, hexlify = _FIRST_L, _LAST_L, len(_FIRST_L), len(_LAST_L), _hexlify
        domain = self.domain
        keyed, slow = self._keyed, self.apply

        def fast(v: bytes) -> bytes:  # apply() and make() inlined: this runs once per row
            if not v:
                return v
            h = keyed.copy()
            h.update(v)
            d = h.digest()
            out = b"%s.%s.%s%s" % (first[(d[0] | d[1] << 8) % nf], last[(d[2] | d[3] << 8) % nl],
                                   hexlify(d[16:24]), domain)
            return slow(v) if out == v else out
        return fast

    def make(self, d, v):
        token = _hexlify(d[16:24])
        domain = self.domain
        base = _FIRST_L[_u16(d, 0) % len(_FIRST_L)] + b"." + _LAST_L[_u16(d, 2) % len(_LAST_L)]
        if self.max_length is None:
            return base + b"." + token + domain
        room = self.max_length - len(domain) - len(token) - 1
        if room <= 0:
            return token[: self.max_length - len(domain)] + domain
        return base[:room].rstrip(b".") + b"." + token + domain


# -- contact details ---------------------------------------------------------------
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
        n = int.from_bytes(d[:4], "little") % 10_000_000
        return self._fit(b"+1555" + str(n).zfill(7).encode())


class Address(Fake):
    kind = "address"

    def bits(self):
        return self._token_bits() if self.unique else 0.0

    def make(self, d, v):
        out = b"%d %s %s, %s" % (
            1 + _u16(d, 0) % 299,
            _STREETS[_u16(d, 2) % len(_STREETS)],
            _SUFFIXES[d[4] % len(_SUFFIXES)],
            _CITIES[_u16(d, 5) % len(_CITIES)],
        )
        return self._with_token(out, d, b", ") if self.unique else self._fit(out)


class City(Fake):
    kind = "city"

    def bits(self):
        return self._token_bits() if self.unique else 0.0

    def make(self, d, v):
        out = _CITIES[_u16(d, 5) % len(_CITIES)]
        return self._with_token(out, d) if self.unique else self._fit(out)


class Postcode(Fake):
    """UK-shaped: ``AB1 2CD``."""

    kind = "postcode"

    def bits(self):
        return self._token_bits() if self.unique else 0.0

    def make(self, d, v):
        u = _UPPER
        out = bytes((u[d[0] % 22], u[d[1] % 22], 48 + d[2] % 10, 32, 48 + d[3] % 10, u[d[4] % 22], u[d[5] % 22]))
        return self._with_token(out, d) if self.unique else self._fit(out)


class Company(Fake):
    kind = "company"

    def bits(self):
        return self._token_bits() if self.unique else 0.0

    def make(self, d, v):
        out = _LAST[_u16(d, 2) % len(_LAST)] + b" " + _COMPANY[d[6] % len(_COMPANY)]
        return self._with_token(out, d) if self.unique else self._fit(out)


class Url(Fake):
    kind = "url"
    always_unique = True
    min_length = len("https://example.com/u/") + 16

    def bits(self):
        return self._token_bits(fixed=len("https://example.com/u/"))

    def make(self, d, v):
        out = b"https://example.com/u/" + _hexlify(d[16:32])
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


# -- free text ---------------------------------------------------------------------
class Text(Fake):
    """Lorem-ipsum words, as long as the original (clipped to the column, and to ``max``, default 2000).

    The words are cut from a keyed 64 KiB tape of lorem words at a keyed word
    boundary: constant work per value, whatever its length.
    """

    kind = "text"
    option_names = ("max",)
    TAPE = 1 << 16

    def configure(self):
        cap = self.options.get("max", 2000)
        if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
            raise FakeError("fake 'text': max must be a positive integer")
        self.cap = cap if self.max_length is None else min(cap, self.max_length)
        words, size, block, i = [], 0, blake2s(b"tape", key=self.key).digest(), 0
        starts = []
        while size < self.TAPE + self.cap + 16:
            if i + 2 > len(block):
                block = blake2s(block, key=self.key).digest()
                i = 0
            w = _LOREM[_u16(block, i) % len(_LOREM)]
            i += 2
            if size < self.TAPE:
                starts.append(size)
            words.append(w)
            size += len(w) + 1
        self.tape = b" ".join(words)
        self.starts = starts

    @property
    def cacheable(self):
        return False

    def bits(self):
        return self._token_bits() if self.unique else 0.0

    def make(self, d, v):
        if v.isascii():
            target = len(v)
        else:
            try:
                target = len(v.decode("utf-8"))
            except UnicodeDecodeError:
                target = len(v)
        target = max(1, min(target, self.cap))
        start = self.starts[int.from_bytes(d[:4], "little") % len(self.starts)]
        out = self.tape[start:start + target].rstrip(b" ") or b"x"
        out = out[:1].upper() + out[1:]
        return self._with_token(out, d) if self.unique else out


# -- identifiers -------------------------------------------------------------------
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
            return b"\\x" + _hexlify(d[:16])
        return _hexlify(d)[: self.length]


# -- dates ---------------------------------------------------------------------------
_DATE = re.compile(rb"(\d{4,})-(\d\d)-(\d\d)(.*)", re.S)


class DateShift(Fake):
    """Move a date or timestamp by a keyed number of days in [-days, -1] ∪ [1, days] (default 365).

    Works on the ISO text ``pg_dump`` writes (``YYYY-MM-DD[ time][zone]``); the
    time of day and zone are kept.  ``infinity`` stays; BC dates are refused.
    """

    kind = "date_shift"
    types = ("date", "timestamp")
    may_fail = True
    can_be_unique = False
    option_names = ("days",)

    def configure(self):
        days = self.options.get("days", 365)
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise FakeError("date_shift: days must be a positive integer")
        self.days = days

    def apply(self, v):
        if v in (b"infinity", b"-infinity"):
            return v
        return super().apply(v)

    def make(self, d, v):
        m = _DATE.fullmatch(v)
        if not m or v.endswith(b" BC"):
            raise FakeError(f"date_shift: {v[:40].decode('utf-8', 'replace')!r} is not an ISO date (AD)")
        shift = int.from_bytes(d[:4], "little") % (2 * self.days) - self.days
        if shift >= 0:
            shift += 1
        try:
            day = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))) + _dt.timedelta(days=shift)
        except (ValueError, OverflowError) as exc:
            raise FakeError(f"date_shift: cannot shift {v[:40].decode('utf-8', 'replace')!r}: {exc}") from None
        return b"%04d-%02d-%02d" % (day.year, day.month, day.day) + m.group(4)


# -- JSON ----------------------------------------------------------------------------
_JSON_STRING = re.compile(rb'"((?:[^"\\]|\\.)*)"(\s*:)?', re.S)


class JsonFake(Fake):
    """Keep the document's shape, keys, numbers, booleans and nulls; fake every string value.

    A string containing ``@`` becomes a fake email, any other a lorem text of
    the same length, keyed on the string itself (so the same email inside JSON
    and in an email column gets the same fake).  ``keep_keys`` lists object keys
    whose (direct) string values are kept (``type``, ``status``, ...).  The
    document is rewritten in place (no re-serialisation), so numbers, spacing
    and key order stay exactly as they were.
    """

    kind = "json"
    types = ("json", "text")
    can_be_unique = False
    copy_safe = False
    must_differ = False
    may_fail = True
    option_names = ("keep_keys",)

    def configure(self):
        keep = self.options.get("keep_keys", [])
        if not isinstance(keep, (list, tuple)) or not all(isinstance(k, str) for k in keep):
            raise FakeError("json: keep_keys must be a list of key names")
        self.keep_keys = frozenset(k.encode("utf-8") for k in keep)
        self._email = self.fakes.make("email").fast()
        self._text = self.fakes.make("text").fast()
        self._validate = self.pgtype is None or self.pgtype.category != "json"
        self._cache: dict = {}

    @property
    def cacheable(self):
        return False

    def apply(self, v: bytes) -> bytes:
        return self.make(b"", v)  # keyed per string inside, not per document: no digest of the whole

    def _leaf(self, raw: bytes) -> bytes:
        """A JSON string's content (between the quotes) → the fake's, JSON-escaped."""
        if b"\\" in raw:
            value = json.loads(b'"' + raw + b'"').encode("utf-8")
        else:
            value = raw
        if not value:
            return raw
        out = (self._email if b"@" in value else self._text)(value)
        # the fakes make ASCII without quotes or backslashes: no escaping needed
        return out

    def _leaf_cached(self, raw: bytes) -> bytes:
        out = self._cache.get(raw)
        if out is None:
            if len(self._cache) > 100_000:
                self._cache.clear()
            out = self._cache[raw] = self._leaf(raw)
        return out

    def make(self, d, v):
        if self._validate:
            try:
                json.loads(v)
            except ValueError as exc:
                raise FakeError(f"json: the value is not JSON ({getattr(exc, 'msg', exc)})") from None
        if b"\\" not in v:
            # no escapes: every '"' delimits a string; odd parts are string contents
            parts = v.split(b'"')
            if len(parts) % 2 == 0:
                raise FakeError("json: unbalanced quotes")
            keep, leaf = self.keep_keys, self._leaf_cached
            for k in range(1, len(parts), 2):
                after = parts[k + 1]
                if after[:1] == b":" or after.lstrip()[:1] == b":":
                    continue  # an object key
                if keep and k >= 3 and parts[k - 2] in keep and parts[k - 1].strip() == b":":
                    continue  # the direct value of a kept key
                if parts[k]:
                    parts[k] = leaf(parts[k])
            return b'"'.join(parts)
        return self._make_escaped(v)

    def _make_escaped(self, v):
        out, pos, key, key_end = [], 0, None, -1
        keep = self.keep_keys
        for m in _JSON_STRING.finditer(v):
            if m.group(2):
                key, key_end = m.group(1), m.end()
                continue
            if key is not None and key in keep and not v[key_end:m.start()].strip():
                continue
            out.append(v[pos:m.start()])
            out.append(b'"' + self._leaf_cached(m.group(1)) + b'"')
            pos = m.end()
        if not out:
            return v
        out.append(v[pos:])
        return b"".join(out)


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
