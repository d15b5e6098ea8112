"""What every fake shares: the keyed digest of the value, length limits, the uniqueness token.

A fake kind subclasses :class:`Fake` and implements :meth:`Fake.make`, a pure
function of the value's keyed digest (and the value); :class:`NaturalFake` is
the base of the kinds whose values look natural and may repeat.
"""
from __future__ import annotations

from binascii import hexlify
from hashlib import blake2s
from typing import Protocol

MIN_UNIQUE_BITS = 64
TOKEN_HEX = 16  # 64 bits


class Memo(dict):
    """``compute(value)`` by value, computed on a miss and kept; at ``limit`` values it starts again, so memory
    stays bounded. A hit costs one subscript, the cheapest thing a row rewriter can do per value."""

    __slots__ = ("compute", "limit")

    def __init__(self, compute, limit: int):
        super().__init__()
        self.compute, self.limit = compute, limit

    def __missing__(self, value):
        if len(self) >= self.limit:
            self.clear()
        out = self[value] = self.compute(value)
        return out


class FakeError(ValueError):
    """A fake cannot be built for these options, or cannot handle a value."""


def u16(d: bytes, i: int) -> int:
    """Two bytes of the digest at ``i``, as a number (little-endian)."""
    return d[i] | (d[i + 1] << 8)


class FakeMaker(Protocol):
    """What a fake is built with (a :class:`~heroku_tools.anonymise.fakes.Fakes`): its key per kind, and other
    fakes (the JSON fake fakes the strings inside a document with them)."""

    def key(self, kind: str) -> bytes: ...

    def make(self, kind: str, **options) -> Fake: ...


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

    def __init__(self, fakes: FakeMaker, *, max_length: int | None = None, unique: bool = False,
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
        """``apply`` with ``make`` inlined, for a fake (not unique) whose ``make`` is ``_fit(build(d, v))``: one
        call per value instead of three or four, a third of the cost of the cheaper kinds."""
        keyed, slow, fit, limit = self._keyed, self.apply, self._fit, self.max_length

        def fast(v: bytes) -> bytes:
            if not v:
                return slow(v)
            h = keyed.copy()
            h.update(v)
            out = build(h.digest(), v)
            if limit is not None and len(out) > limit:
                out = fit(out)
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
        token = hexlify(d[16:24])
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


class NaturalFake(Fake):
    """A natural-looking value that may repeat (:meth:`natural`), clipped to the column; with ``unique: true``,
    shortened to make room for a 64-bit token of the keyed hash after ``separator``."""

    separator = b" "

    def bits(self):
        return self._token_bits() if self.unique else 0.0

    def make(self, d, v):
        out = self.natural(d, v)
        return self._with_token(out, d, self.separator) if self.unique else self._fit(out)

    def natural(self, d: bytes, v: bytes) -> bytes:
        raise NotImplementedError

    def fast(self):
        return self.apply if self.unique else self._fast_from(self.natural)

