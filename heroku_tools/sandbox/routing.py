"""A tiny router shared by the sandbox's API modules.

Each module under :mod:`heroku_tools.sandbox.api` registers its handlers with
:func:`route`; the server imports them all and dispatches by method and path.
A handler takes a :class:`Request` and returns a :class:`Response`, a JSON-able
object (sent as 200), or :data:`HANDLED` when it wrote to the socket itself
(git's smart HTTP, streamed output).
"""
from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterable

from .state import ApiError

HANDLED = object()


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict = field(default_factory=dict)
    #: Raw bytes (or an iterable of chunks, streamed) instead of a JSON body.
    raw: bytes | Iterable[bytes] | None = None
    content_type: str = "application/json"


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: Any
    body: bytes
    params: dict
    sandbox: Any  # the SandboxServer: .state, .base_url, .rendezvous_port ...
    handler: Any  # the BaseHTTPRequestHandler, for handlers that stream

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise ApiError(400, "bad_request", "Request body is not valid JSON.") from None

    @property
    def state(self):
        return self.sandbox.state

    @property
    def accept(self) -> str:
        return self.headers.get("Accept", "")


@dataclass
class Route:
    method: str
    template: str
    pattern: re.Pattern
    func: Callable[[Request], Any]
    auth: bool


ROUTES: list[Route] = []


def read_request_body(rfile, headers) -> bytes:
    """A request's whole body, sent with ``Content-Length`` or chunked (git, the router's clients)."""
    if headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(rfile.read(size))
            rfile.readline()
        return b"".join(chunks)
    length = int(headers.get("Content-Length") or 0)
    return rfile.read(length) if length else b""


def route(method: str, template: str, *, auth: bool = True):
    """Register ``func`` for ``method`` and a path ``template`` like ``/apps/{app}``."""

    def compile_template(template: str) -> re.Pattern:
        parts = re.split(r"(\{\w+\})", template)
        regex = "".join(
            f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts
        )
        return re.compile(f"^{regex}$")

    def register(func):
        ROUTES.append(Route(method, template, compile_template(template), func, auth))
        return func

    return register


def match(method: str, path: str) -> tuple[Route | None, dict, bool]:
    """The route for ``method path``, its params, and whether the path exists at all."""
    path_exists = False
    for r in ROUTES:
        m = r.pattern.match(path)
        if m:
            path_exists = True
            if r.method == method:
                return r, {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}, True
    return None, {}, path_exists


_RANGE = re.compile(r"^\s*(?P<field>\w+)\s*(?P<exclusive>\]?)(?P<start>[^.;\s]*)\.\.(?P<end>[^;\s]*)")


def parse_range(header: str | None, default_max: int = 200) -> tuple[str | None, int, str, str | None, bool]:
    """Parse a Heroku ``Range`` header such as ``version ..; max=15, order=desc``.

    Returns ``(field, max, order, start, exclusive)``: ``start`` is where the
    page begins (``]v`` excludes ``v`` itself, as in the ``Next-Range`` this
    server sends); the CLI's variants put ``max`` and ``order`` in either order,
    with or without spaces and a trailing ``;``.
    """
    if not header:
        return None, default_max, "asc", None, False
    head = _RANGE.match(header)
    found_max = re.search(r"max=(\d+)", header)
    found_order = re.search(r"order=(asc|desc)", header)
    return (
        head.group("field") if head else None,
        min(int(found_max.group(1)), 1000) if found_max else default_max,
        found_order.group(1) if found_order else "asc",
        (head.group("start") or None) if head else None,
        bool(head and head.group("exclusive")),
    )


def paginate(req: Request, items: list[dict], field_name: str = "id") -> Response:
    """Order, cut and answer a list the way the Platform API does, honouring ``Range``.

    A request carrying a ``Next-Range`` value continues after the item it names.
    """
    _, limit, order, start, exclusive = parse_range(req.headers.get("Range"))
    ordered = list(reversed(items)) if order == "desc" else list(items)
    if start is not None:
        keys = [str(item.get(field_name)) for item in ordered]
        if start in keys:
            index = keys.index(start)
            ordered = ordered[index + 1 if exclusive else index:]
    page = ordered[:limit]
    if len(ordered) > limit:
        last = page[-1].get(field_name)
        return Response(
            206,
            page,
            {"Next-Range": f"{field_name} ]{last}..; max={limit}, order={order}", "Content-Range": f"{field_name} ..; max={limit}"},
        )
    return Response(200, page)
