"""Aligned text tables, as the show, diff and plan reports print them, and the kinds of row they show."""
from __future__ import annotations

from collections.abc import Callable
from enum import Enum

#: A cell wider than this does not widen its column (the last cell is never padded).
MAX_COLUMN = 48

Paint = Callable[..., str]


def no_paint(text: str, *styles: str) -> str:
    """The default ``paint``: no colour (reports are coloured only for a terminal)."""
    return text


class Row(str, Enum):
    """A kind of row: its value (what JSON says), its symbol (the row's first column) and its colours."""

    symbol: str
    style: tuple[str, ...]

    def __new__(cls, value: str, symbol: str, *style: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.symbol = symbol
        member.style = style
        return member

    def __str__(self) -> str:
        return self.value


def table(rows: list[tuple[str, str, list[str]]], styles: list[tuple], paint: Paint) -> list[str]:
    """Rows of (symbol, key, cells) aligned in columns; the last cell is never padded."""
    widths = [max((len(row[1]) for row in rows), default=0)]
    ncells = max((len(row[2]) for row in rows), default=0)
    for i in range(ncells - 1):
        widths.append(min(MAX_COLUMN, max((len(row[2][i]) for row in rows if len(row[2]) > i), default=0)))
    out = []
    for (symbol, key, cells), style in zip(rows, styles, strict=True):
        parts = [key.ljust(widths[0])]
        parts += [cell.ljust(widths[i + 1]) for i, cell in enumerate(cells[:-1])]
        parts += cells[-1:]
        out.append(paint(f"{symbol} " + "  ".join(parts).rstrip(), *style))
    return out


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
