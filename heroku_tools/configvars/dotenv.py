"""``.env`` files: read with python-dotenv's own parser, written so that it reads them back exactly.

Reading goes through :func:`dotenv.parser.parse_stream` — the parser behind
python-dotenv's ``dotenv_values`` and ``load_dotenv``, which Django projects
already use — so a file means here what it means to the app. Only two things
are added: a line it cannot read is an error naming the line (and the key,
never the value), and a name without ``=`` is refused rather than read as
"unset". ``${NAME}`` references are expanded later, by the one grammar in
:mod:`heroku_tools.settings.variables`, not by python-dotenv.
"""
from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path

from dotenv.parser import Binding, parse_stream

from ..private import private_file
from .errors import ConfigError

_SAFE = re.compile(r"^[A-Za-z0-9_./:@%+,=\-]+\Z")
_DOUBLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: The start of a binding python-dotenv gave up on: its key, and the quote its value opens with.
_BROKEN = re.compile(r"\s*(?:export\s+)?('[^']+'|[^=#\s]+)[^\S\r\n]*=[^\S\r\n]*(['\"]?)")
_QUOTED = {"'": re.compile(r"'(?:\\.|[^'\\])*'", re.S), '"': re.compile(r'"(?:\\.|[^"\\])*"', re.S)}
_NEWLINE = re.compile(r"\r\n|\n|\r")


class DotenvError(ValueError):
    """A line of a ``.env`` file that cannot be read: ``line N: ...`` (never the value)."""


def dotenv_value(value: str) -> str:
    """``value`` quoted for a ``.env`` file so python-dotenv, django-environ and a POSIX
    shell read back exactly ``value``: bare when safe, single quotes when that suffices,
    else double quotes with ``\\n``-style escapes."""
    if _SAFE.match(value):
        return value
    if "'" not in value and "\\" not in value and value.isprintable():
        return f"'{value}'"
    return '"' + "".join(_DOUBLE_ESCAPES.get(ch, ch) for ch in value) + '"'


def render_dotenv(values: Mapping[str, str], header: str | None = None) -> str:
    """A ``.env`` file of ``values`` (sorted by name), with ``header`` as comment lines."""
    lines = [f"# {line}".rstrip() for line in (header or "").splitlines()]
    lines += [f"{key}={dotenv_value(values[key])}" for key in sorted(values)]
    return "\n".join(lines) + "\n"


def parse_dotenv(text: str) -> dict[str, str]:
    """The vars of a ``.env`` file as python-dotenv reads them (without interpolation):
    ``KEY=value``, ``export KEY=value``, ``'single'`` and ``"double"`` quotes (with their
    escapes; may span lines), comments and blank lines.

    Raises :class:`DotenvError` (``line N: ...``) on a line it cannot read.
    """
    result: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise DotenvError(f"line {_line(binding)}: {_unreadable(binding.original.string)}")
        if binding.key is None:
            continue  # a blank or comment line
        if binding.value is None:
            raise DotenvError(f"line {_line(binding)}: expected '=' after {binding.key}")
        result[binding.key] = binding.value
    return result


def _line(binding: Binding) -> int:
    """The line a binding starts on: python-dotenv counts from before the blank lines it skipped."""
    text = binding.original.string
    skipped = text[: len(text) - len(text.lstrip())]
    return binding.original.line + len(_NEWLINE.findall(skipped))


def _unreadable(text: str) -> str:
    """Why python-dotenv gave up on the binding ``text``, naming its key (never its value)."""
    start = _BROKEN.match(text)
    if not start:
        return "expected KEY=value"
    key, quote = start.group(1).strip("'"), start.group(2)
    if quote and not _QUOTED[quote].match(text, start.start(2)):
        return f"{key}: unterminated {quote}quoted value"
    return f"{key}: unexpected text after the {'closing quote' if quote else 'value'}"


def write_private(path: Path | str, text: str, *, force: bool = False) -> Path:
    """Write ``text`` to ``path``, readable and writable by its owner only (0600) from the start.

    Without ``force`` an existing file is left alone (:class:`ConfigError`); with it the
    file is replaced atomically (see :func:`heroku_tools.private.private_file`).
    """
    try:
        with private_file(path, force=force) as sink:
            sink.write(text.encode("utf-8"))
    except FileExistsError:
        raise ConfigError(f"{path} exists: pass --force to replace it, or -o to write elsewhere") from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be written: {exc.strerror}") from None
    return Path(path)
