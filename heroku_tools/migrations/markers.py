"""What the project says about its own migrations, which outranks what the rules infer.

Strongest first:

1. the caller's overrides, by ``app.name`` (``migrations: {compatible: [...]}``
   in heroku-tools.yml once the deploy flow reads it);
2. a ``# heroku-tools: compatible`` (or ``locking``, ``incompatible``) comment
   on the ``class Migration`` line, or on one operation's line for that operation;
3. django-safemigrate's ``safe = Safe.before_deploy()`` / ``Safe.always()``
   (it may run while the old code serves) and ``Safe.after_deploy(...)`` (the
   old code must not see it);
4. django-syzygy's ``stage = Stage.PRE_DEPLOY`` / ``Stage.POST_DEPLOY``, read the same way.
"""
from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import HerokuToolsError
from .values import Call, Ref
from .verdicts import Verdict

#: The comment marker; the verdict words are :class:`Verdict` values.
MARKER = "heroku-tools:"
_MARKER = re.compile(r"#\s*heroku-tools:\s*(compatible|locking|incompatible)\b", re.IGNORECASE)
#: Verdicts a person may assert; "unknown" is what the rules say when no one has.
MARKABLE = (Verdict.COMPATIBLE, Verdict.LOCKING, Verdict.INCOMPATIBLE)

_SAFEMIGRATE = {"before_deploy": Verdict.COMPATIBLE, "always": Verdict.COMPATIBLE, "after_deploy": Verdict.INCOMPATIBLE}
_SYZYGY = {"PRE_DEPLOY": Verdict.COMPATIBLE, "POST_DEPLOY": Verdict.INCOMPATIBLE}


@dataclass(frozen=True)
class Mark:
    """A verdict someone asserted, and where (said in reports: "marked compatible by ...")."""

    verdict: Verdict
    source: str


def comment_marks(source: str) -> dict[int, Verdict]:
    """``{line: verdict}`` for every ``# heroku-tools: VERDICT`` comment in ``source``.

    Only real comments count (tokenize), not the same text inside a string;
    files without the marker text skip tokenizing, which is most of them.
    """
    if MARKER not in source:
        return {}
    marks = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                found = _MARKER.match(token.string)
                if found:
                    marks[token.start[0]] = Verdict(found.group(1).lower())
    except (tokenize.TokenError, SyntaxError):  # the caller reports the file as not parsed
        return marks
    return marks


def comment_mark(marks: Mapping[int, Verdict], line: int, what: str) -> Mark | None:
    verdict = marks.get(line)
    if verdict is None:
        return None
    return Mark(verdict, f"a `# heroku-tools: {verdict}` comment on {what} (line {line})")


def tool_mark(attribute: str, value, line: int) -> Mark | None:
    """The mark django-safemigrate's ``safe`` or django-syzygy's ``stage`` attribute makes, if any."""
    if isinstance(value, Call):  # Safe.after_deploy(delay=...)
        value = Ref(value.qualified, value.written)
    if not isinstance(value, Ref):
        return None
    table, tool = (_SAFEMIGRATE, "django-safemigrate") if attribute == "safe" else (_SYZYGY, "django-syzygy")
    verdict = table.get(value.short)
    if verdict is None:
        return None
    return Mark(verdict, f"{tool}'s `{attribute} = {value.written or value.qualified}` (line {line})")


@dataclass(frozen=True)
class Overrides:
    """Per-migration verdicts the caller gives, by ``app.name``; the strongest mark of all."""

    verdicts: Mapping[str, Verdict]
    origin: str = "the migrations overrides"

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Iterable[str]] | None, origin: str = "the migrations overrides") -> Overrides:
        """Read ``{"compatible": ["app.0007_x"], "incompatible": [...]}``; a clear error if malformed."""
        verdicts: dict[str, Verdict] = {}
        for word, names in (mapping or {}).items():
            verdict = _markable(word, origin)
            if isinstance(names, str) or not isinstance(names, Iterable):
                raise HerokuToolsError(f"{origin}: {word}: expected a list of app.migration names")
            for name in names:
                _check_name(name, origin)
                if verdicts.get(name, verdict) != verdict:
                    raise HerokuToolsError(f"{origin}: {name} is listed as both {verdicts[name]} and {verdict}")
                verdicts[name] = verdict
        return cls(verdicts, origin)

    def mark(self, key: str) -> Mark | None:
        verdict = self.verdicts.get(key)
        return Mark(verdict, f"{self.origin} ({verdict}: {key})") if verdict else None


def _markable(word, origin: str) -> Verdict:
    try:
        verdict = Verdict(str(word).lower())
    except ValueError:
        verdict = None
    if verdict not in MARKABLE:
        raise HerokuToolsError(f"{origin}: {word!r} is not one of {', '.join(v.value for v in MARKABLE)}")
    return verdict


def _check_name(name, origin: str) -> None:
    app, dot, migration = str(name).partition(".")
    if not (isinstance(name, str) and app and dot and migration):
        raise HerokuToolsError(f"{origin}: {name!r} is not an app.migration name such as customers.0007_phone")
