"""A throwaway PostgreSQL cluster for tests and benchmarks.

initdb and postgres refuse to run as root, so when this process is root the
cluster runs as ``nobody`` (its directory chowned to it).  The server listens
only on a Unix socket inside the cluster directory; clients connect as the
``postgres`` superuser (trust authentication) or as roles created by the test.

    with PgCluster() as cluster:
        cluster.sql("CREATE DATABASE x")
        url = cluster.url("x")
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))

DEFAULT_SETTINGS = {
    "listen_addresses": "",
    "fsync": "on",
    "synchronous_commit": "on",
    "shared_buffers": "128MB",
    "max_wal_size": "4GB",
    "log_min_messages": "warning",
    "logging_collector": "off",
}


class PgCluster:
    def __init__(self, directory: str | Path | None = None, *, port: int = 5432, settings: dict | None = None):
        self.directory = Path(directory or tempfile.mkdtemp(prefix="ht-pg-"))
        self.port = port
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self.data = self.directory / "data"
        self.socket_dir = self.directory / "sock"
        self.log = self.directory / "server.log"
        self._proc: subprocess.Popen | None = None
        self._as_user = "nobody" if os.geteuid() == 0 else None

    # -- lifecycle -------------------------------------------------------------
    def _run_as(self, argv: list[str], **kwargs):
        if self._as_user:
            argv = ["setpriv", f"--reuid={self._as_user}", "--regid=nogroup", "--clear-groups", "--", *argv]
        return argv

    def start(self) -> PgCluster:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if self._as_user:
            pw = pwd.getpwnam(self._as_user)
            os.chmod(self.directory, 0o755)
            for path in (self.directory, self.socket_dir):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        if not (self.data / "PG_VERSION").exists():
            result = subprocess.run(
                self._run_as([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                              "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]),
                capture_output=True, text=True, cwd="/",
            )
            if result.returncode != 0:
                raise RuntimeError(f"initdb failed ({result.returncode}): {result.stderr.strip()}")
        options = []
        for key, value in self.settings.items():
            options += ["-c", f"{key}={value}"]
        log = open(self.log, "ab")
        if self._as_user:
            pw = pwd.getpwnam(self._as_user)
            os.chown(self.log, pw.pw_uid, pw.pw_gid)
        self._proc = subprocess.Popen(
            self._run_as([str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port),
                          "-k", str(self.socket_dir), *options]),
            stdout=log, stderr=subprocess.STDOUT, cwd="/", start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"postgres exited {self._proc.returncode}: {self.log.read_text()[-2000:]}")
            ready = subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", str(self.socket_dir), "-p", str(self.port)])
            if ready.returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError("postgres did not become ready")

    def stop(self, *, remove: bool = True) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()  # smart shutdown would wait for clients; SIGTERM is "smart"
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PgCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- clients ---------------------------------------------------------------
    def env(self, user: str = "postgres", dbname: str = "postgres") -> dict:
        env = dict(os.environ)
        env.update(PGHOST=str(self.socket_dir), PGPORT=str(self.port), PGUSER=user, PGDATABASE=dbname)
        env.pop("PGPASSWORD", None)
        return env

    def url(self, dbname: str, user: str = "postgres") -> str:
        return f"postgresql://{quote(user)}@/{quote(dbname)}?host={quote(str(self.socket_dir))}&port={self.port}"

    def conninfo(self, dbname: str, user: str = "postgres") -> str:
        return f"host={self.socket_dir} port={self.port} user={user} dbname={dbname}"

    def psql(self, sql: str, dbname: str = "postgres", user: str = "postgres", *, check: bool = True) -> str:
        result = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dbname, "-U", user],
            input=sql, text=True, capture_output=True, env=self.env(user, dbname),
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"psql failed ({result.returncode}): {result.stderr}")
        return result.stdout

    sql = psql

    def createdb(self, name: str, owner: str = "postgres") -> str:
        self.psql(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        return name

    def dropdb(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def server_cpu(self) -> float:
        """CPU seconds used so far by the server: the postmaster, its live children and the children it reaped."""
        if not self._proc:
            return 0.0
        tick = os.sysconf("SC_CLK_TCK")
        pm = self._proc.pid
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(entry.name), int(fields[1])
            if pid == pm:
                total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
            elif ppid == pm:
                total += int(fields[11]) + int(fields[12])
        return total / tick

    def relation_files(self, dbname: str) -> list[Path]:
        """Every file of the database's directory (heap, indexes, TOAST)."""
        oid = self.psql(f"SELECT oid FROM pg_database WHERE datname = '{dbname}'").strip()
        return sorted(p for p in (self.data / "base" / oid).iterdir() if p.is_file())

    def wal_files(self) -> list[Path]:
        return sorted(p for p in (self.data / "pg_wal").iterdir() if p.is_file())
