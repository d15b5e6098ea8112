"""COPY text format: round trips and PostgreSQL's escape rules."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heroku_tools.anonymise.copytext import (
    CopyFormatError,
    decode_field,
    decode_row,
    decode_text,
    encode_field,
    encode_row,
    encode_text,
)

# PostgreSQL text cannot hold NUL; everything else may appear, including the escapes' own characters
text_values = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))
special = st.text(alphabet="\\\t\n\r\b\f\v.N x0123abc☃é", max_size=30)


@given(st.one_of(text_values, special))
def test_text_round_trip(value):
    encoded = encode_text(value)
    assert "\t" not in encoded and "\n" not in encoded and "\r" not in encoded
    assert encoded != "\\N"
    assert decode_text(encoded) == value


@given(st.binary().filter(lambda b: b"\x00" not in b))
def test_bytes_round_trip(value):
    encoded = encode_field(value)
    assert b"\t" not in encoded and b"\n" not in encoded
    assert decode_field(encoded) == value


@given(st.lists(st.one_of(st.none(), text_values, special), min_size=1, max_size=8))
def test_row_round_trip(values):
    line = encode_row(values)
    assert b"\n" not in line
    assert line.count(b"\t") == len(values) - 1
    assert decode_row(line) == values


@given(st.one_of(text_values, special))
def test_a_line_never_looks_like_the_end_marker(value):
    assert encode_text(value) != "\\."


def test_null():
    assert decode_field(b"\\N") is None
    assert encode_field(None) == b"\\N"
    assert decode_text("\\\\N") == "\\N"  # an escaped backslash then N is the two characters
    assert encode_text("\\N") == "\\\\N"


@pytest.mark.parametrize("raw, value", [
    (b"a\\tb", b"a\tb"),
    (b"a\\nb", b"a\nb"),
    (b"\\\\", b"\\"),
    (b"\\b\\f\\r\\v", b"\b\f\r\v"),
    (b"\\101\\102", b"AB"),          # octal
    (b"\\7", b"\x07"),
    (b"\\1011", b"A1"),              # at most three octal digits
    (b"\\x41\\x4", b"A\x04"),         # hex, one or two digits
    (b"\\xg", b"xg"),                # \x without a hex digit is x
    (b"\\q\\.", b"q."),              # any other escaped character is itself
    (b"\\303\\251", "é".encode()),   # escapes denote bytes in the data's encoding
])
def test_postgres_escapes(raw, value):
    assert decode_field(raw) == value


def test_lone_backslash_is_an_error():
    with pytest.raises(CopyFormatError):
        decode_field(b"abc\\")
