"""The anonymising engine as a zipapp built in memory, and the fixed command that runs it in a one-off dyno.

The dyno's Python is the app's own (from its slug) and has none of
heroku-tools' requirements, so the engine travels with the restore: the
modules :mod:`.dyno` imports, found by reading their ``import`` statements
(:func:`closure`) — the anonymiser, :mod:`heroku_tools.database`,
:mod:`heroku_tools.errors`, :mod:`heroku_tools.trust` and the version — with
the two package ``__init__`` files that re-export the public API replaced by
their docstring, zipped with fixed timestamps, so one version of the tool
always builds the same bytes.

:data:`BOOTSTRAP` is the whole command line ``heroku run`` is given: fixed,
with no secret and no data in it. It reads its stdin line by line — the run
protocol ends stdin with ``\\x04``, never an end-of-file it could wait for:

1. ``heroku-tools-engine VERSION SHA256`` (the header);
2. the zip, base64, in lines, then ``end``; the bootstrap checks its digest,
   writes it to a temporary file in the dyno (its own filesystem, thrown away
   with it), and runs :func:`heroku_tools.anonymise.dyno.main`, which reads
3. one JSON line of parameters: the rules (:meth:`Rules.to_mapping`), the
   fake's secret, the canary, the backup's signed URL, the mode.

The rules, the secret and the URL therefore travel over stdin only, never on a
command line or in config vars. What comes back is described in :mod:`.dyno`.
"""
from __future__ import annotations

import ast
import base64
import functools
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .._version import __version__
from .frames import PREFIX

ENTRY = "heroku_tools.anonymise.dyno"
HEADER = "heroku-tools-engine"
#: Packages whose ``__init__`` re-exports the library's API (and imports all of it): the engine gets a stub.
STUBBED = ("heroku_tools", "heroku_tools.anonymise")
_ROOT = Path(__file__).resolve().parents[2]
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
#: Oldest Python the engine runs on (``zip(strict=)``, ``X | Y`` in annotations that are never evaluated).
MIN_PYTHON = (3, 10)

#: What ``heroku run`` runs: the app's ``python`` (else ``python3``) reading the engine from stdin. It prints
#: a framed verdict of its own when the engine cannot even start, so the other side always learns why.
_BOOTSTRAP_CODE = f"""
import base64,hashlib,json,os,sys,tempfile
def fail(m):
    sys.stdout.write("{PREFIX}verdict "+json.dumps({{"ok":False,"error":"RestoreFailed","message":m}})+"\\n")
    sys.exit(3)
if sys.version_info<{MIN_PYTHON!r}: fail("the Python of the app is "+sys.version.split()[0]+"; the engine needs 3.10+")
i=sys.stdin.buffer
h=i.readline().split()
if len(h)!=3 or h[0]!=b"{HEADER}": fail("the engine did not arrive (no header on stdin)")
b=[]
for l in iter(i.readline,b""):
    if l.strip()==b"end": break
    b.append(l.strip())
z=base64.b64decode(b"".join(b))
if hashlib.sha256(z).hexdigest().encode()!=h[2]: fail("the engine arrived damaged (its digest differs)")
f=tempfile.NamedTemporaryFile(prefix="heroku-tools-engine-",suffix=".zip",delete=False)
f.write(z);f.close()
sys.path.insert(0,f.name)
try:
    from heroku_tools.anonymise.dyno import main
    main(i,h[1].decode())
finally:
    os.unlink(f.name)
""".strip()

#: One line (the CLI shows the command in its ``Running … up, run.1234`` line, which names the dyno), no ``'``:
#: the code as a JSON string, which is a Python string literal too.
BOOTSTRAP = f"""P=$(command -v python || command -v python3); "$P" -u -c 'exec({json.dumps(_BOOTSTRAP_CODE)})'"""


@dataclass(frozen=True)
class Engine:
    """The zipapp and what identifies it."""

    data: bytes
    version: str
    digest: str
    modules: tuple[str, ...]

    def payload(self, params: dict) -> bytes:
        """Everything the dyno reads from stdin: header, the zip as base64 lines, ``end``, the parameters."""
        text = base64.encodebytes(self.data).decode("ascii")
        return (f"{HEADER} {self.version} {self.digest}\n{text}end\n"
                f"{json.dumps(params, separators=(',', ':'))}\n").encode()


def module_path(name: str) -> Path:
    """The source file of a module of the package (a package by its ``__init__``)."""
    base = _ROOT.joinpath(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _is_module(name: str) -> bool:
    return name.startswith("heroku_tools") and module_path(name).is_file()


def _imports(name: str) -> set[str]:
    """The package's own modules ``name`` imports at its top level."""
    path = module_path(name)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if _is_module(alias.name)}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package
                for _ in range(node.level - 1):
                    parent = parent.rpartition(".")[0]
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if _is_module(target) else base)
    return {module for module in found if _is_module(module)}


def closure(entry: str = ENTRY) -> list[str]:
    """Every module of the package that importing ``entry`` runs, packages included (their ``__init__``)."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
            module = ".".join(parts[:depth])
            if module in seen or not _is_module(module):
                continue
            seen.add(module)
            if module not in STUBBED:
                todo.extend(_imports(module))
    return sorted(seen)


def _stub(name: str) -> str:
    """A package ``__init__`` reduced to its docstring: the engine imports modules, never the public API."""
    tree = ast.parse(module_path(name).read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree) or name
    return f'"""{doc.splitlines()[0]} (the engine\'s copy: modules only, see heroku_tools.anonymise.zipapp)"""\n'


@functools.lru_cache(maxsize=1)
def build() -> Engine:
    """The engine of this version of heroku-tools (built once per process)."""
    modules = closure()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in modules:
            path = module_path(name)
            text = _stub(name) if name in STUBBED else path.read_text(encoding="utf-8")
            info = zipfile.ZipInfo(str(path.relative_to(_ROOT)), date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
        info = zipfile.ZipInfo("__main__.py", date_time=_FIXED_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, f"import sys\nfrom {ENTRY} import main\nmain(sys.stdin.buffer)\n")
    data = buffer.getvalue()
    return Engine(data=data, version=__version__, digest=hashlib.sha256(data).hexdigest(), modules=tuple(modules))
