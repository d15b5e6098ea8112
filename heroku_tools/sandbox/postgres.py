"""Throwaway PostgreSQL clusters: the sandbox's, the tests' and the benchmarks'.

:class:`PostgresCluster` is one real cluster in a directory of its own,
initialised on first start and tuned for speed, not durability (``fsync``,
``synchronous_commit`` and ``full_page_writes`` off, unless ``settings``
says otherwise): it holds throwaway data. Two ways in:

- its **superuser** ``postgres`` and any role the caller creates connect
  over a unix socket (``directory/run``, or a short directory under the
  system temp dir when that path is too long for a socket), trusted locally:
  :meth:`~PostgresCluster.psql`, :meth:`~PostgresCluster.url`,
  :meth:`~PostgresCluster.env` (for ``psql``, ``pg_dump``, ``pg_restore``);
- **apps** connect over TCP on 127.0.0.1 with SSL and their role's password
  (``hostssl``, ``scram-sha-256``), as on Heroku, where ``pg:psql`` and
  Django's ``ssl_require`` insist on SSL; clients default to
  ``sslmode=prefer`` and so connect unchanged. :meth:`~PostgresCluster.create_database`
  makes such a database, as a ``heroku-postgresql`` add-on is one:
  ``postgres://<user>:<password>@127.0.0.1:<port>/<dbname>``. Roles cannot
  connect to each other's databases. The certificate is the sandbox's own kind
  (:mod:`heroku_tools.sandbox.certs`), kept in ``directory/tls``.

The sandbox holds every add-on in one cluster (``.heroku-tools/sandbox/postgres``);
the test suite and the benchmarks start their own::

    with PostgresCluster(tmp_path / "pg") as cluster:
        cluster.psql("CREATE ROLE app LOGIN")
        cluster.createdb("shop", owner="app")
        restore(dump, cluster.url("shop", "app"), ...)

The TCP port is chosen once and kept in ``directory/port``, so that URLs stay
valid across restarts; a cluster whose data directory exists starts with the
object that names it (the sandbox's saved ``DATABASE_URL`` values answer again
as soon as a restarted sandbox does).

Binaries, first found wins (each directory must hold ``initdb``, ``postgres``,
``pg_dump``, ``pg_restore`` and ``psql``, so dumps and restores always use the
server's own version):

1. ``$HEROKU_TOOLS_PG_BIN``, when set;
2. the directory of ``initdb`` on ``PATH`` (links resolved);
3. ``pg_config --bindir``;
4. ``/usr/lib/postgresql/*/bin``, newest version first (Debian, Ubuntu);
5. the ``pgserver`` wheel (``pip install 'heroku-tools[sandbox-postgres]'``),
   which ships PostgreSQL binaries inside the package: found with
   :func:`importlib.util.find_spec`, without importing it.

PostgreSQL refuses to run as root. When this process is root (CI, most
containers), ``initdb`` and ``postgres`` run inside a new user namespace
(``unshare --user --map-user=65534 --map-group=65534``): there they are the
unprivileged ``nobody``, while on disk the files stay root's, so nothing needs
chowning and a data directory below a ``0700`` directory (pytest's temp dirs)
stays reachable. Where user namespaces are forbidden, they run as ``nobody``
through ``setpriv`` instead, the cluster directory is chowned to ``nobody``,
and every parent directory must let ``nobody`` through.
"""
from __future__ import annotations

import functools
import glob
import hashlib
import importlib.util
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from .certs import ensure_certificates

if TYPE_CHECKING:
    from typing import Self  # 3.11+; annotations are not evaluated at run time

REQUIRED_BINARIES = ("initdb", "postgres", "pg_dump", "pg_restore", "psql")
SUPERUSER = "postgres"
#: Fast, non-durable settings: a cluster holds throwaway data.
SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "listen_addresses": "127.0.0.1",
    "log_min_messages": "warning",
}
#: Seconds a starting server has to answer (generous: a busy machine starts it slowly).
START_TIMEOUT = 60
_MAX_SOCKET_PATH = 107 - len("/.s.PGSQL.65535")  # sun_path: 107 bytes and a NUL, the socket name included


class PostgresError(RuntimeError):
    """The cluster could not be found, initialised, started or queried."""


def _has_binaries(directory: str | Path | None) -> bool:
    return bool(directory) and all((Path(directory) / name).is_file() for name in REQUIRED_BINARIES)


def _version_key(path: str) -> tuple:
    return tuple(int(part) for part in re.findall(r"\d+", Path(path).parent.name))


def _candidate_bin_dirs() -> list[str]:
    """Every place to look, in order (see the module doc)."""
    candidates: list[str] = []
    if os.environ.get("HEROKU_TOOLS_PG_BIN"):
        candidates.append(os.environ["HEROKU_TOOLS_PG_BIN"])
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).resolve().parent))
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(found.stdout.strip())
    candidates.extend(sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True))
    spec = importlib.util.find_spec("pgserver")
    if spec and spec.origin:
        candidates.append(str(Path(spec.origin).parent / "pginstall" / "bin"))
    return candidates


def find_bin_dir() -> Path:
    """The first directory holding a complete set of PostgreSQL binaries (see module doc)."""
    for candidate in _candidate_bin_dirs():
        if _has_binaries(candidate):
            return Path(candidate)
    raise PostgresError(
        "no PostgreSQL server binaries found: install PostgreSQL (apt-get install postgresql) "
        "or `pip install 'heroku-tools[sandbox-postgres]'`, or set HEROKU_TOOLS_PG_BIN"
    )


@functools.cache
def _user_namespaces_work() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "--user", "--map-user=65534", "--map-group=65534", "true"], capture_output=True
    )
    return probe.returncode == 0


def _free_port() -> int:
    """A free port on 127.0.0.1, below the kernel's ephemeral range when it can be.

    The port is chosen well before the server binds it (``initdb`` runs in
    between): an ephemeral port could meanwhile become the local end of some
    outgoing connection, and the server would fail to start. Ports below that
    range are never handed out by ``connect()``.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 0
    candidates = [secrets.randbelow(low - 10000) + 10000 for _ in range(20)] if low > 11000 else []
    for port in [*candidates, 0]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise PostgresError("no free TCP port on 127.0.0.1")


def _identifier(prefix: str) -> str:
    """A Heroku-looking lowercase identifier such as ``u3kq9...`` (14 characters)."""
    alphabet = string.ascii_lowercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(13))


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class PostgresCluster:
    """A PostgreSQL cluster in ``directory``, started on demand (or by :meth:`start`) and stopped by :meth:`stop`.

    ``settings`` are server settings (``postgresql.conf`` names) laid over :data:`SETTINGS`.
    """

    def __init__(self, directory: Path | str, *, settings: dict[str, str] | None = None):
        self.directory = Path(directory)
        self.data_dir = self.directory / "data"
        self.log_file = self.directory / "postgres.log"
        self.settings = {**SETTINGS, **(settings or {})}
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._bin_dir: Path | None = None
        self._running = False
        if (self.data_dir / "PG_VERSION").exists():
            self._start_quietly()

    # -- where things are ------------------------------------------------------
    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = find_bin_dir()
        return self._bin_dir

    def binary(self, name: str) -> str:
        return str(self.bin_dir / name)

    @property
    def port(self) -> int:
        port_file = self.directory / "port"
        if not port_file.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            port_file.write_text(str(_free_port()))
        return int(port_file.read_text())

    @property
    def socket_dir(self) -> Path:
        preferred = self.directory / "run"
        if len(str(preferred)) <= _MAX_SOCKET_PATH:
            return preferred
        digest = hashlib.sha1(str(self.directory.resolve()).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"heroku-tools-pg-{digest}"

    @property
    def pid(self) -> int | None:
        """The postmaster's process id while the cluster runs."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def url(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        """A libpq URL over the unix socket (trusted: no password), for local clients."""
        return f"postgresql://{quote(user)}@/{quote(dbname)}?host={quote(str(self.socket_dir))}&port={self.port}"

    def tcp_url(self, user: str, password: str, dbname: str) -> str:
        """An app's URL, as Heroku gives it: TCP on 127.0.0.1, SSL and the role's password."""
        return f"postgres://{user}:{password}@127.0.0.1:{self.port}/{dbname}"

    def env(self, user: str = SUPERUSER, dbname: str = "postgres") -> dict[str, str]:
        """This process's environment pointed at the cluster for libpq programs (``psql``, ``pg_dump``, ...).

        The cluster's own binaries come first on ``PATH``.
        """
        env = {key: value for key, value in os.environ.items() if key != "PGPASSWORD"}
        env.update(
            PGHOST=str(self.socket_dir), PGPORT=str(self.port), PGUSER=user, PGDATABASE=dbname,
            PATH=f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        return env

    # -- running as an unprivileged user --------------------------------------
    def _server_argv(self, argv: list[str]) -> list[str]:
        """``argv`` wrapped so that it runs unprivileged when we are root (see module doc)."""
        if os.geteuid() != 0:
            return argv
        if _user_namespaces_work():
            return ["unshare", "--user", "--map-user=65534", "--map-group=65534", *argv]
        nobody = pwd.getpwnam("nobody")
        for path in (self.directory, self.socket_dir):
            subprocess.run(["chown", "-R", f"{nobody.pw_uid}:{nobody.pw_gid}", str(path)], check=True)
        return ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups", *argv]

    # -- lifecycle -------------------------------------------------------------
    def ensure_running(self) -> None:
        """Initialise the cluster if needed and start it unless it already answers."""
        with self._lock:
            if self._running and (self._process is None or self._process.poll() is None):
                return
            if not self._answers():
                self.directory.mkdir(parents=True, exist_ok=True)
                self.socket_dir.mkdir(parents=True, exist_ok=True)
                if not (self.data_dir / "PG_VERSION").exists():
                    self._initdb()
                self._start()
            self._running = True

    def start(self) -> Self:
        self.ensure_running()
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start_quietly(self) -> None:
        try:
            self.ensure_running()
        except PostgresError as error:  # the first request that needs the cluster reports it again
            print(f"heroku-tools sandbox: PostgreSQL did not start: {error}", file=sys.stderr)

    def _initdb(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(mode=0o700)
        argv = [
            self.binary("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
            "--locale=C", "--no-sync",
        ]
        done = subprocess.run(self._server_argv(argv), capture_output=True, text=True)
        if done.returncode != 0:
            raise PostgresError(f"initdb failed ({done.returncode}):\n{done.stderr or done.stdout}")
        (self.data_dir / "pg_hba.conf").write_text(
            "# heroku-tools: the superuser and local roles over the unix socket; apps over SSL with a password.\n"
            "local all all trust\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
        )

    def _start(self) -> None:
        _, cert_file, key_file = ensure_certificates(self.directory / "tls")
        argv = [self.binary("postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                "-k", str(self.socket_dir)]
        settings = {**self.settings, "ssl": "on", "ssl_cert_file": str(cert_file), "ssl_key_file": str(key_file)}
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        log = open(self.log_file, "ab")
        self._process = subprocess.Popen(
            self._server_argv(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._answers():
                return
            if self._process.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                raise PostgresError(f"postgres exited with status {self._process.returncode}:\n{tail}")
            time.sleep(0.05)
        raise PostgresError(f"postgres did not accept connections within {START_TIMEOUT} s")

    def _answers(self) -> bool:
        if not (self.socket_dir / f".s.PGSQL.{self.port}").exists():
            return False
        probe = subprocess.run(
            [self.binary("psql"), *self._client_args("postgres", SUPERUSER), "-c", "SELECT 1"], capture_output=True
        )
        return probe.returncode == 0

    def stop(self) -> None:
        """Fast shutdown, as ``pg_ctl stop -m fast`` does it: SIGINT to the postmaster.

        Signalled directly because ``pg_ctl``, like ``postgres``, refuses to run
        as root. Also stops a postmaster left behind by a killed process.
        """
        with self._lock:
            self._running = False
            pid = self.pid
            if pid is None:
                return
            try:
                os.kill(pid, signal.SIGINT)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and (self.data_dir / "postmaster.pid").exists():
                if self._process is not None and self._process.poll() is not None:
                    break
                time.sleep(0.05)
            if self._process is not None:
                self._process.wait(timeout=5)
                self._process = None

    def describe(self) -> dict:
        try:
            bin_dir = str(self.bin_dir)
            version = subprocess.run([self.binary("postgres"), "--version"], capture_output=True, text=True).stdout.strip()
        except PostgresError as error:
            return {"bin_dir": None, "version": None, "error": str(error), "running": False}
        port_file = self.directory / "port"
        return {
            "bin_dir": bin_dir,
            "version": version,
            "port": int(port_file.read_text()) if port_file.exists() else None,
            "running": self._answers(),
            "data_dir": str(self.data_dir),
        }

    # -- SQL over the unix socket ---------------------------------------------
    def _client_args(self, dbname: str, user: str) -> list[str]:
        return ["-h", str(self.socket_dir), "-p", str(self.port), "-U", user, "-d", dbname,
                "-X", "-q", "-v", "ON_ERROR_STOP=1"]

    def psql(self, sql: str, dbname: str = "postgres", user: str = SUPERUSER, *, check: bool = True,
             separator: str = "|") -> str:
        """Run the SQL script ``sql`` as ``user``; what psql prints, unaligned, rows only (``a|b`` lines)."""
        self.ensure_running()
        done = subprocess.run(
            [self.binary("psql"), *self._client_args(dbname, user), "-A", "-t", "-F", separator],
            input=sql, capture_output=True, text=True,
        )
        if check and done.returncode != 0:
            raise PostgresError(f"psql failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def rows(self, sql: str, dbname: str = "postgres", user: str = SUPERUSER) -> list[list[str]]:
        """The rows ``sql`` returns, each a list of text values."""
        return [line.split("\t") for line in self.psql(sql, dbname, user, separator="\t").splitlines() if line]

    def relation_files(self, dbname: str) -> list[Path]:
        """Every file of the database's directory (heap, indexes, TOAST)."""
        ((oid,),) = self.rows(f"SELECT oid FROM pg_database WHERE datname = {quote_literal(dbname)}")
        return sorted(p for p in (self.data_dir / "base" / oid).iterdir() if p.is_file())

    # -- databases -------------------------------------------------------------
    def createdb(self, name: str, owner: str = SUPERUSER) -> str:
        """An empty database ``name`` owned by ``owner``; returns ``name``."""
        self.psql(f"CREATE DATABASE {quote_ident(name)} OWNER {quote_ident(owner)}")
        return name

    def dropdb(self, name: str) -> None:
        self.psql(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")

    def create_database(self, dbname: str | None = None) -> dict:
        """A new database (named ``dbname``, or as Heroku names them) owned by a new role, as an add-on's.

        Returns ``{"user", "password", "dbname", "url"}``.
        """
        user, password = _identifier("u"), "p" + secrets.token_hex(32)
        dbname = dbname or _identifier("d")
        self.psql(f"CREATE ROLE {quote_ident(user)} LOGIN PASSWORD {quote_literal(password)}")
        self._create_owned_database(dbname, user)
        return {"user": user, "password": password, "dbname": dbname, "url": self.tcp_url(user, password, dbname)}

    def _create_owned_database(self, dbname: str, user: str) -> None:
        self.createdb(dbname, owner=user)
        self.psql(f"REVOKE ALL ON DATABASE {quote_ident(dbname)} FROM PUBLIC")

    def reset_database(self, dbname: str, user: str, extensions: list[str] = ()) -> None:
        """Drop and recreate the database, as ``pg:reset`` does; then create ``extensions``.

        An extension may be ``schema.name`` to install it into that schema.
        """
        self.dropdb(dbname)
        self._create_owned_database(dbname, user)
        for extension in extensions:
            schema, _, name = extension.rpartition(".")
            if schema:
                self.psql(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)} AUTHORIZATION {quote_ident(user)}", dbname)
            target = f" SCHEMA {quote_ident(schema)}" if schema else ""
            self.psql(f"CREATE EXTENSION IF NOT EXISTS {quote_ident(name)}{target}", dbname)

    def drop_database(self, dbname: str, user: str) -> None:
        self.dropdb(dbname)
        self.psql(f"DROP ROLE IF EXISTS {quote_ident(user)}")

    def statistics(self, dbname: str, user: str) -> dict:
        """Figures for ``pg:info``: size in bytes, user tables, connections, server version."""
        size, tables, version = self.rows(
            "SELECT pg_database_size(current_database()), "
            "(SELECT count(*) FROM pg_stat_user_tables), current_setting('server_version')",
            dbname,
        )[0]
        (connections,) = self.rows(
            f"SELECT count(*) FROM pg_stat_activity WHERE datname = {quote_literal(dbname)} "
            f"AND usename = {quote_literal(user)}"
        )[0]
        return {"size": int(size), "tables": int(tables), "version": version.split()[0],
                "connections": int(connections)}
