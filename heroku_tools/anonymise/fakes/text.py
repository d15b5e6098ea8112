"""Free text: lorem-ipsum words, and JSON documents whose strings are faked."""
from __future__ import annotations

import json
import re
from hashlib import blake2s

from .base import Fake, FakeError, Memo, NaturalFake, u16
from .vocab import LOREM as _LOREM


class Text(NaturalFake):
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
            w = _LOREM[u16(block, i) % len(_LOREM)]
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

    def natural(self, d, v):
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
        return out[:1].upper() + out[1:]  # no longer than the column: clipping (NaturalFake) changes nothing


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
        self._leaves = Memo(self._leaf, 100_000)

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

    def make(self, d, v):
        if self._validate:
            try:
                json.loads(v)
            except ValueError as exc:
                raise FakeError(f"json: the value is not JSON ({getattr(exc, 'msg', exc)})") from None
        if b"\\" in v:
            return self._make_escaped(v)
        # no escapes: every '"' delimits a string; odd parts are string contents, even parts what lies between
        parts = v.split(b'"')
        n = len(parts)
        if n % 2 == 0:
            raise FakeError("json: unbalanced quotes")
        keep, leaf = self.keep_keys, self._leaves
        k = 1
        while k < n:
            after = parts[k + 1]
            if after.lstrip()[:1] == b":":  # an object key
                if after.strip() == b":" and k + 2 < n:  # ... whose value is a string: the next part
                    if parts[k + 2] and parts[k] not in keep:
                        parts[k + 2] = leaf[parts[k + 2]]
                    k += 4
                else:
                    k += 2
                continue
            if parts[k]:
                parts[k] = leaf[parts[k]]
            k += 2
        return b'"'.join(parts)

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
            out.append(b'"' + self._leaves[m.group(1)] + b'"')
            pos = m.end()
        if not out:
            return v
        out.append(v[pos:])
        return b"".join(out)
