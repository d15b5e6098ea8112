"""PostgreSQL ``COPY ... FROM stdin`` text format: decode and encode fields and rows.

A row is one line; fields are separated by a tab; ``\\N`` is NULL; a backslash
escapes the characters that would otherwise break the format.  ``COPY TO``
(what ``pg_dump`` writes) escapes backslash, ``\\b \\f \\n \\r \\t \\v``;
``COPY FROM`` also accepts octal (``\\1``..``\\377``) and hex (``\\xH``,
``\\xHH``) escapes, which denote *bytes* in the data's encoding, and treats any
other escaped character as itself.  See the PostgreSQL manual, "COPY", "Text
Format".

The stream engine works on bytes (the dump's client encoding); these helpers
offer both: ``decode_field`` (bytes → bytes) and ``decode_text`` (→ str).
"""
from __future__ import annotations

import re

NULL = b"\\N"
NULL_TEXT = "\\N"

_HEX = b"0123456789abcdefABCDEF"

_SIMPLE = {
    ord("b"): b"\b",
    ord("f"): b"\f",
    ord("n"): b"\n",
    ord("r"): b"\r",
    ord("t"): b"\t",
    ord("v"): b"\v",
}

_ESCAPE_BYTES = {
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}
_ENCODE_TABLE = str.maketrans(_ESCAPE_BYTES)
_NEEDS_ESCAPE = re.compile(r"[\\\b\f\n\r\t\v]")
_NEEDS_ESCAPE_B = re.compile(rb"[\\\b\f\n\r\t\v]")
_ESCAPES_B = {k.encode(): v.encode() for k, v in _ESCAPE_BYTES.items()}


class CopyFormatError(ValueError):
    """A field or row is not valid COPY text."""


def decode_field(raw: bytes) -> bytes | None:
    """One COPY field (bytes, as on the wire) → its value's bytes, or None for ``\\N``."""
    if raw == NULL:
        return None
    if b"\\" not in raw:
        return raw
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c != 0x5C:  # backslash
            j = raw.find(b"\\", i)
            if j < 0:
                j = n
            out += raw[i:j]
            i = j
            continue
        if i + 1 >= n:
            raise CopyFormatError("a COPY field ends with a lone backslash")
        e = raw[i + 1]
        if e in _SIMPLE:
            out += _SIMPLE[e]
            i += 2
        elif 0x30 <= e <= 0x37:  # octal: up to three digits
            j = i + 1
            value = 0
            while j < n and j < i + 4 and 0x30 <= raw[j] <= 0x37:
                value = value * 8 + (raw[j] - 0x30)
                j += 1
            out.append(value & 0xFF)
            i = j
        elif e == 0x78 and i + 2 < n and raw[i + 2] in _HEX:  # \xH or \xHH
            j = i + 3
            if j < n and raw[j] in _HEX:
                j += 1
            out.append(int(raw[i + 2:j], 16))
            i = j
        else:
            out.append(e)  # \\ → \, \. → ., any other escaped char → itself
            i += 2
    return bytes(out)


def encode_field(value: bytes | None) -> bytes:
    """Value bytes (or None) → one COPY field."""
    if value is None:
        return NULL
    if _NEEDS_ESCAPE_B.search(value) is None:
        return value
    return _NEEDS_ESCAPE_B.sub(lambda m: _ESCAPES_B[m.group()], value)


def decode_text(raw: bytes | str, encoding: str = "utf-8") -> str | None:
    """One COPY field → str (or None)."""
    if isinstance(raw, str):
        raw = raw.encode(encoding)
    value = decode_field(raw)
    return None if value is None else value.decode(encoding)


def encode_text(value: str | None) -> str:
    """str (or None) → one COPY field as str."""
    if value is None:
        return NULL_TEXT
    if _NEEDS_ESCAPE.search(value) is None:
        return value
    return value.translate(_ENCODE_TABLE)


def decode_row(line: bytes, encoding: str = "utf-8") -> list[str | None]:
    """One COPY line (without its newline) → list of values."""
    return [decode_text(f, encoding) for f in line.split(b"\t")]


def encode_row(values, encoding: str = "utf-8") -> bytes:
    """Values → one COPY line (without newline)."""
    return b"\t".join(encode_text(v).encode(encoding) for v in values)
