"""Masking: a value shown as its length and a keyed fingerprint, never as itself.

A masked value reads ``<37 chars 9f2c1a7e>``: the fingerprint is the start of
an HMAC-SHA256 of the value under a key kept outside the output, so the same
value has the same mask on both sides of a comparison while nobody holding the
output can test guesses against it. :func:`scrub` takes values out of text
that must be shown (a failing command's message); :class:`ArgumentMask` takes
``KEY=VALUE`` values out of Invoke's own ``--debug`` logging, which prints
every argument of the command line it parses.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger("heroku_tools")

FINGERPRINT_ENV = "HEROKU_TOOLS_FINGERPRINT_KEY"
FINGERPRINT_LENGTH = 8
ABSENT = "(not set)"


def key_file(environ: Mapping[str, str] | None = None) -> Path:
    """Where the per-user fingerprint key lives: ``$XDG_CONFIG_HOME/heroku-tools/fingerprint.key``."""
    environ = os.environ if environ is None else environ
    if os.name == "nt" and environ.get("APPDATA"):
        base = Path(environ["APPDATA"])
    else:
        base = Path(environ.get("XDG_CONFIG_HOME") or Path(environ.get("HOME") or Path.home()) / ".config")
    return base / "heroku-tools" / "fingerprint.key"


def fingerprint_key(environ: Mapping[str, str] | None = None) -> bytes:
    """The key fingerprints are made with: ``$HEROKU_TOOLS_FINGERPRINT_KEY``, else a random
    per-user key created (mode 0600) on first use; if it cannot be stored, one for this run.

    Set the variable to the same secret on two machines (CI and a laptop) to compare
    their fingerprints; anyone without the key cannot test guesses against a fingerprint.
    """
    environ = os.environ if environ is None else environ
    explicit = environ.get(FINGERPRINT_ENV)
    if explicit:
        return explicit.encode("utf-8")
    path = key_file(environ)
    try:
        return path.read_bytes().strip() or _new_key(path, replace=True)
    except FileNotFoundError:
        pass
    except OSError as exc:
        return _run_key(path, "unreadable", exc)
    try:
        return _new_key(path)
    except FileExistsError:
        return path.read_bytes().strip()
    except OSError as exc:
        return _run_key(path, "not writable", exc)


def _run_key(path: Path, why: str, exc: OSError) -> bytes:
    log.debug("fingerprint key %s %s (%s): using a key for this run only", path, why, exc)
    return secrets.token_hex(32).encode()


def _new_key(path: Path, replace: bool = False) -> bytes:
    key = secrets.token_hex(32).encode()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
    return key


class Masker:
    """Masks values: ``<37 chars 9f2c1a7e>``. The same value always gets the same mask."""

    def __init__(self, key: bytes | str | None = None):
        if isinstance(key, str):
            key = key.encode("utf-8")
        self._key = key

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = fingerprint_key()
        return self._key

    def fingerprint(self, value: str) -> str:
        digest = hmac.new(self.key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return digest[:FINGERPRINT_LENGTH]

    def mask(self, value: str) -> str:
        if value == "":
            return "<empty>"
        return f"<{len(value)} char{'s' if len(value) != 1 else ''} {self.fingerprint(value)}>"

    def show(self, value: str | None, reveal: bool = False) -> str:
        """``value`` as a report shows it: masked, or (``reveal``) printable and unambiguous."""
        if value is None:
            return ABSENT
        return visible(value) if reveal else self.mask(value)

    def describe(self, value: str | None, reveal: bool = False) -> dict | None:
        """``value`` for JSON output: length and fingerprint, plus the value if ``reveal``."""
        if value is None:
            return None
        described: dict[str, Any] = {"length": len(value), "fingerprint": self.fingerprint(value)}
        if reveal:
            described["value"] = value
        return described


_PLAIN = re.compile(r"^[^\s\"'\\<(][^\x00-\x1f\x7f\"\\]*(?<!\s)\Z")


def visible(value: str) -> str:
    """A value shown on one line: as is when plain, else JSON-quoted (newlines as ``\\n``)."""
    if value and _PLAIN.match(value) and value.isprintable():
        return value
    return json.dumps(value, ensure_ascii=False)


def scrub(text: str, values: Iterable[str]) -> str:
    """``text`` with every value of 4 or more characters replaced by ``…``."""
    for value in sorted({v for v in values if len(v) >= 4}, key=len, reverse=True):
        text = text.replace(value, "…")
    return text


# -- Invoke's --debug logging -------------------------------------------------------------

#: A quoted string in a log message (Invoke logs arguments with ``repr``); the apostrophe of "We're" opens none.
_LITERAL = re.compile(r"(?<!\w)(?:'(?:[^'\\]|\\.)*'" + r'|"(?:[^"\\]|\\.)*")(?!\w)', re.S)
#: ``KEY=`` at the start of an argument, after ``--flag=`` or after a colon-syntax comma: the rest is a value.
_ASSIGNMENT = re.compile(r"(?:^|,|--[\w-]+=)[^-=\s,'\"][^=\s,'\"]*=", re.S)


def mask_arguments(text: str) -> str:
    """``text`` with the value of every quoted ``KEY=VALUE`` argument (``--var=KEY=VALUE``,
    ``task:env,KEY=VALUE``) replaced by ``…``: ``'SECRET=…'``."""

    def mask(match: re.Match) -> str:
        quote, inner = match.group(0)[0], match.group(0)[1:-1]
        assignment = _ASSIGNMENT.search(inner)
        if assignment is None:
            return match.group(0)
        return f"{quote}{inner[: assignment.end()]}…{quote}"

    return _LITERAL.sub(mask, text)


class ArgumentMask(logging.Filter):
    """A logging filter masking ``KEY=VALUE`` arguments (:func:`mask_arguments`) in every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot be formatted is left for logging's own error report
            return True
        masked = mask_arguments(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def mask_invoke_logging() -> None:
    """Give Invoke's logger (its parser and executor log every argument under ``--debug``) our mask, once."""
    logger = logging.getLogger("invoke")
    if not any(isinstance(existing, ArgumentMask) for existing in logger.filters):
        logger.addFilter(ArgumentMask())
