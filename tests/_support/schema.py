"""Validate the sandbox's logged responses against Heroku's Platform API schema.

The sandbox logs every request and JSON response to ``requests.jsonl``. This
module maps each logged ``method path`` to the schema link whose ``href``
template matches it, and validates the body against that link's
``targetSchema``, so every suite can assert that the real CLI was answered with
what real Heroku would send::

    errors = validate_logged_responses(sandbox.requests()[start:])
    assert errors == []

or, per test, with the ``schema_conformance`` fixture (``tests/conftest.py``).

Two rules go beyond plain JSON Schema, because Heroku's interagent
hyper-schema relies on them:

* ``strictProperties: true`` objects may hold no property the schema does not
  declare (jsonschema ignores the keyword; we enforce it);
* ``format`` is checked for ``uuid``, ``date-time``, ``email`` and ``uri``.

Two deliberate deviations are allowed: ``git_url`` points at the sandbox
(``https://127.0.0.1:PORT/app.git``) instead of ``git.heroku.com``, since that
is where ``git push`` must go, and ``web_url`` at its router
(``https://<app>-<hex>.herokuapp.localhost:PORT/``) instead of ``herokuapp.com``,
since that is where the app is served.
"""
from __future__ import annotations

import functools
import json
import re
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterable

import jsonschema
from jsonschema import Draft4Validator, FormatChecker

#: Heroku's public Platform API hyper-schema, vendored beside the tests.
SCHEMA_PATH = Path(__file__).with_name("platform-api-schema.json")

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_SANDBOX_GIT_HOST = r"(?:git\.heroku\.com|127\.0\.0\.1:\d+)"
#: ``web_url``: the sandbox's router serves ``<app>-<hex>.herokuapp.localhost:PORT`` where Heroku serves ``herokuapp.com``.
_SANDBOX_WEB_HOST = r"\.herokuapp\.(?:com|localhost:\d+)/"


def _is_uuid(value) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _format_checker() -> FormatChecker:
    checker = FormatChecker(())
    checker.checks("uuid")(_is_uuid)
    checker.checks("date-time")(lambda v: not isinstance(v, str) or bool(_DATE_TIME.match(v)))
    checker.checks("email")(lambda v: not isinstance(v, str) or "@" in v)
    checker.checks("uri")(lambda v: not isinstance(v, str) or bool(urllib.parse.urlsplit(v).scheme))
    return checker


def _strict_properties(validator, strict, instance, schema):
    """``strictProperties: true``: no property beyond those the schema declares."""
    if strict and validator.is_type(instance, "object"):
        extra = sorted(set(instance) - set(schema.get("properties", {})))
        if extra:
            yield jsonschema.ValidationError(f"undeclared properties {extra} in a strictProperties object")


StrictValidator = jsonschema.validators.extend(Draft4Validator, {"strictProperties": _strict_properties})


@dataclass
class Link:
    method: str
    href: str
    pattern: re.Pattern
    placeholders: int
    target: dict
    title: str


@dataclass
class SchemaReport:
    """The outcome of checking a request log: errors, and what could not be checked."""

    errors: list[str] = field(default_factory=list)
    checked: int = 0
    skipped: list[str] = field(default_factory=list)


def _relax_pattern(pattern: str) -> str:
    return pattern.replace(r"git\.heroku\.com", _SANDBOX_GIT_HOST).replace(r"\.herokuapp\.com/", _SANDBOX_WEB_HOST)


def _relax_sandbox_hosts(node):
    """Let URL patterns that name ``git.heroku.com`` accept the sandbox's host."""
    if isinstance(node, dict):
        return {
            k: (_relax_pattern(v) if k == "pattern" and isinstance(v, str) else _relax_sandbox_hosts(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_relax_sandbox_hosts(v) for v in node]
    return node


@functools.cache
def load_schema(path: Path = SCHEMA_PATH) -> dict:
    return _relax_sandbox_hosts(json.loads(Path(path).read_text()))


def _compile_href(href: str) -> tuple[re.Pattern, int]:
    parts = re.split(r"(\{\([^)]*\)\})", href)
    regex = "".join("[^/]+" if p.startswith("{(") else re.escape(p) for p in parts)
    return re.compile(f"^{regex}$"), sum(p.startswith("{(") for p in parts)


@functools.cache
def links(path: Path = SCHEMA_PATH) -> list[Link]:
    """Every link of the schema, with its target schema made explicit.

    A link without ``targetSchema`` answers with its resource (an array of it
    for ``rel: instances``), as the hyper-schema convention says.
    """
    schema = load_schema(path)
    found = []
    for name, definition in schema["definitions"].items():
        for link in definition.get("links", []):
            target = link.get("targetSchema")
            if target is None:
                own = {"$ref": f"#/definitions/{name}"}
                target = {"type": ["array"], "items": own} if link.get("rel") == "instances" else own
            pattern, placeholders = _compile_href(link["href"])
            found.append(Link(link["method"].upper(), link["href"], pattern, placeholders, target, f"{name} {link.get('title', '')}"))
    return found


def find_links(method: str, path: str) -> list[Link]:
    """The most specific links for ``method path`` (fewest placeholders), or []."""
    matching = [link for link in links() if link.method == method and link.pattern.match(path)]
    if not matching:
        return []
    fewest = min(link.placeholders for link in matching)
    return [link for link in matching if link.placeholders == fewest]


@functools.cache
def _validator(target_json: str) -> StrictValidator:
    target = json.loads(target_json)
    root = {**target, "definitions": load_schema()["definitions"]}
    return StrictValidator(root, format_checker=_format_checker())


def validate_body(link: Link, body) -> list[str]:
    validator = _validator(json.dumps(link.target, sort_keys=True))
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    ]


def check_responses(entries: Iterable[dict]) -> SchemaReport:
    """Validate each logged response that the schema describes.

    Successful JSON answers are validated against their link's target schema;
    error answers must carry Heroku's ``{"id", "message"}`` body. Requests with
    no schema link (data API, git, streams, ``/_sandbox``) are listed in
    ``skipped``.
    """
    report = SchemaReport()
    for entry in entries:
        method, path, status = entry["method"], entry["path"], entry.get("status")
        label = f"{method} {path} -> {status}"
        candidates = find_links(method, path)
        if not candidates or not isinstance(status, int):
            report.skipped.append(label)
            continue
        body = entry.get("response")
        report.checked += 1
        if status >= 400:
            if not (isinstance(body, dict) and isinstance(body.get("id"), str) and isinstance(body.get("message"), str)):
                report.errors.append(f"{label}: error body lacks id/message: {body!r}")
            continue
        if status == 204 or body is None:
            continue
        problems = [validate_body(link, body) for link in candidates]
        if all(problems):
            report.errors.extend(f"{label} ({candidates[0].title}): {p}" for p in problems[0])
    return report


def validate_logged_responses(entries: Iterable[dict]) -> list[str]:
    """Schema errors in the logged responses (empty when all conform)."""
    return check_responses(entries).errors


class RequestLog:
    """The sandbox's log from the moment this object is made: one test's requests."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.path = Path(sandbox.directory) / "requests.jsonl"
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            return [json.loads(line) for line in fh.read().decode().splitlines() if line.strip()]

    def app_path(self, app: str) -> str:
        """A regex for ``/apps/<app>`` as clients write it: by name or by id."""
        ident = self.sandbox.api("GET", f"/apps/{app}")["id"]
        return rf"/apps/({re.escape(app)}|{ident})"

    def assert_conform(self) -> SchemaReport:
        report = check_responses(self.entries())
        assert not report.errors, "responses that break the Platform API schema:\n" + "\n".join(report.errors)
        return report
