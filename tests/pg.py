"""A throwaway PostgreSQL server for tests.

``PostgresServer`` runs ``initdb`` and ``pg_ctl`` from the machine's PostgreSQL
binaries into a fresh directory, listening on a free loopback port (TCP only),
tuned for speed over durability. PostgreSQL refuses to run as root, so under
root every server command runs as ``nobody`` (``runuser``, else ``setpriv``)
in a directory that user owns::

    with PostgresServer() as server:
        url = server.create_database("shop")   # postgres://postgres@127.0.0.1:PORT/shop
        ...

``PG_BIN`` names the binaries' directory explicitly; otherwise the newest
``/usr/lib/postgresql/*/bin``, then ``pg_config --bindir``, then ``PATH``.
"""
from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Self  # 3.11+; annotations are not evaluated at run time

UNPRIVILEGED_USER = "nobody"

#: Appended to postgresql.conf: loopback TCP only, no fsync (data is thrown away).
SERVER_SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 40
shared_buffers = 32MB
"""


class PostgresNotFound(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_pg_bin() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``."""
    explicit = os.environ.get("PG_BIN")
    if explicit:
        return Path(explicit)
    versions = []
    for candidate in Path("/usr/lib/postgresql").glob("*/bin"):
        if (candidate / "initdb").exists():
            number = re.match(r"\d+", candidate.parent.name)
            versions.append((int(number.group()) if number else 0, candidate))
    if versions:
        return max(versions)[1]
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], check=False, capture_output=True, text=True)
        bindir = Path(found.stdout.strip())
        if (bindir / "initdb").exists():
            return bindir
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresNotFound("no PostgreSQL server binaries (initdb, pg_ctl): install postgresql or set PG_BIN")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in its own directory, started and stopped by the caller."""

    def __init__(self, directory: Path | str | None = None, *, port: int | None = None, bin_dir: Path | None = None):
        self.bin_dir = Path(bin_dir) if bin_dir else find_pg_bin()
        self._owns_directory = directory is None
        # Not under pytest's tmp_path: that is 0700 root-only, and the server
        # may have to run as another user.
        self.directory = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="heroku-tools-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "server.log"
        self.port = port or free_port()
        self.user = "postgres"
        self._running = False

    # -- running commands, as an unprivileged user when we are root ------------
    def _as_server_user(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        if shutil.which("runuser"):
            return ["runuser", "-u", UNPRIVILEGED_USER, "--"]
        return ["setpriv", f"--reuid={UNPRIVILEGED_USER}", f"--regid={UNPRIVILEGED_USER}", "--clear-groups"]

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [*self._as_server_user(), *args],
            check=False,
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"},
        )
        if check and result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}\n{log}"
            )
        return result

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(UNPRIVILEGED_USER)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        if not (self.data / "PG_VERSION").exists():
            self._run(
                str(self.bin_dir / "initdb"),
                "-D", str(self.data),
                "-U", self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            )
        conf = self.data / "postgresql.conf"
        # Port and friends live in the data directory: pg_ctl needs no -o quoting.
        # Ownership stays with the server user: the root writes below keep it.
        with open(conf, "a") as handle:
            handle.write(SERVER_SETTINGS.format(port=self.port))
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
            self._running = False
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- databases ---------------------------------------------------------------
    def url(self, database: str = "postgres") -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its ``DATABASE_URL``."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"not a simple database name: {name!r}")
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def execute(self, sql: str, database: str = "postgres", params: tuple = ()) -> list[tuple]:
        """Run one statement (autocommit) and return its rows, if any."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
