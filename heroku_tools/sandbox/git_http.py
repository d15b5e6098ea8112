"""Git's smart HTTP for the sandbox: ``git http-backend`` behind the TLS server.

Each app has a bare repository at ``State.repo_dir(app)``, served at
``https://127.0.0.1:PORT/<app>.git`` as Heroku serves ``https://git.heroku.com/<app>.git``.
The request body is streamed into ``git http-backend`` (run as a CGI program)
and its output is streamed back chunk by chunk as it is produced, so what the
``pre-receive`` hook prints during a build reaches the pusher live, as
``remote:`` lines.

The hook (this module's :func:`pre_receive`, installed in every repository)
does no work itself: it hands the pushed ref to the sandbox server, which owns
the state, and relays the build's streamed output. The server ends that output
with an exit-status line; the hook exits with it, so a failed build rejects the
push exactly as Heroku's does.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import ssl
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

#: Environment variables the server gives ``git http-backend`` for the hook.
HOOK_URL_VAR = "HEROKU_SANDBOX_BUILD_URL"
HOOK_CA_VAR = "HEROKU_SANDBOX_CA_FILE"
HOOK_KEY_VAR = "HEROKU_SANDBOX_API_KEY"

#: The last line of a build stream: ``EXIT_MARKER + b"<status>\n"``. A NUL byte
#: cannot appear in text the build prints, so it never collides with output.
EXIT_MARKER = b"\0sandbox-exit-status: "

#: Git variables locating the pushed objects while ``pre-receive`` runs: they
#: sit in a quarantine directory until the hook accepts the push.
QUARANTINE_VARS = ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH")

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


# -- repositories --------------------------------------------------------------
_repo_lock = threading.Lock()


def ensure_repo(repo: Path, app_id: str) -> Path:
    """The app's bare repository, created on first use, with the build hook installed.

    The repository records the app's id: an app destroyed and created again
    under the same name starts with an empty repository, as on Heroku.
    """
    owner = repo / "sandbox-app-id"
    with _repo_lock:
        if repo.exists() and (not owner.exists() or owner.read_text() != app_id):
            shutil.rmtree(repo)
        if not repo.exists():
            repo.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["git", "init", "--quiet", "--bare", str(repo)], check=True)
            subprocess.run(["git", "--git-dir", str(repo), "config", "http.receivepack", "true"], check=True)
            subprocess.run(["git", "--git-dir", str(repo), "symbolic-ref", "HEAD", "refs/heads/main"], check=True)
            owner.write_text(app_id)
        _install_hook(repo)
    return repo


def _install_hook(repo: Path) -> None:
    """(Re)write ``pre-receive`` so it runs this sandbox's own Python."""
    hook = repo / "hooks" / "pre-receive"
    script = (
        "#!/bin/sh\n"
        "# Installed by the heroku-tools sandbox: builds and releases a push to main/master.\n"
        f"exec {shlex.quote(sys.executable)} -m heroku_tools.sandbox.git_http pre-receive\n"
    )
    if not hook.exists() or hook.read_text() != script:
        hook.parent.mkdir(parents=True, exist_ok=True)
        hook.write_text(script)
        hook.chmod(0o755)


# -- the CGI bridge --------------------------------------------------------------
def request_chunks(handler) -> Iterator[bytes]:
    """The request body as it arrives, de-chunked if ``Transfer-Encoding: chunked``."""
    rfile = handler.rfile
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        while True:
            size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return
            remaining = size
            while remaining:
                data = rfile.read(min(remaining, 65536))
                if not data:
                    return
                remaining -= len(data)
                yield data
            rfile.readline()
    else:
        remaining = int(handler.headers.get("Content-Length") or 0)
        while remaining:
            data = rfile.read(min(remaining, 65536))
            if not data:
                return
            remaining -= len(data)
            yield data


def cgi_environment(req, repos_root: Path, path_info: str, hook_env: dict) -> dict:
    """The CGI variables ``git http-backend`` needs, plus what the hook needs."""
    headers = req.handler.headers
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GIT_") and key not in ("CONTENT_LENGTH", "CONTENT_TYPE")
    }
    env.update(
        GIT_PROJECT_ROOT=str(repos_root),
        GIT_HTTP_EXPORT_ALL="1",
        PATH_INFO=path_info,
        REQUEST_METHOD=req.method,
        QUERY_STRING=req.handler.path.partition("?")[2],
        CONTENT_TYPE=headers.get("Content-Type", ""),
        REMOTE_USER="heroku",
        REMOTE_ADDR=req.handler.client_address[0],
        PYTHONPATH=os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")) if p),
        **hook_env,
    )
    # A chunked body has no length: http-backend then reads until end of input.
    if headers.get("Content-Length") and headers.get("Transfer-Encoding", "").lower() != "chunked":
        env["CONTENT_LENGTH"] = headers["Content-Length"]
    for header, variable in (("Content-Encoding", "HTTP_CONTENT_ENCODING"), ("Git-Protocol", "HTTP_GIT_PROTOCOL")):
        if headers.get(header):
            env[variable] = headers[header]
    return env


def serve(req, repos_root: Path, path_info: str, hook_env: dict) -> None:
    """Run ``git http-backend`` for this request, streaming both directions."""
    handler = req.handler
    process = subprocess.Popen(
        ["git", "http-backend"],
        env=cgi_environment(req, repos_root, path_info, hook_env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )

    def feed() -> None:
        try:
            for chunk in request_chunks(handler):
                process.stdin.write(chunk)
                process.stdin.flush()
        except (BrokenPipeError, OSError):
            handler.close_connection = True
        finally:
            try:
                process.stdin.close()
            except OSError:
                pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        status, headers, rest = _read_cgi_headers(process.stdout)
        handler.send_response(status)
        for key, value in headers:
            if key.lower() != "content-length":  # the body is re-framed as chunks
                handler.send_header(key, value)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        fd = process.stdout.fileno()
        chunk = rest
        while True:
            if chunk:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                handler.wfile.flush()
            chunk = os.read(fd, 65536)
            if not chunk:
                break
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
    except OSError:
        handler.close_connection = True  # the client went away mid-response
    finally:
        feeder.join(timeout=5)
        if feeder.is_alive():
            handler.close_connection = True
        process.stdout.close()
        process.wait()


def _read_cgi_headers(stdout) -> tuple[int, list[tuple[str, str]], bytes]:
    """Split the CGI response into status, headers and the first body bytes."""
    fd = stdout.fileno()
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = os.read(fd, 65536)
        if not data:
            return 500, [("Content-Type", "text/plain")], b"git http-backend failed\n"
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    status, headers = 200, []
    for line in head.decode("latin-1").split("\r\n"):
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.split()[0])
        elif key:
            headers.append((key.strip(), value.strip()))
    return status, headers, rest


# -- the pre-receive hook ---------------------------------------------------------
def pre_receive() -> int:
    """Hand each pushed ref to the sandbox server and relay its build output.

    Runs inside ``git receive-pack``; everything written to stdout reaches the
    pusher as ``remote:`` lines, and a non-zero exit rejects the whole push.
    """
    stdout = sys.stdout.buffer
    updates = [line.split() for line in sys.stdin.read().splitlines() if line.strip()]
    payload = {
        "updates": [{"old": old, "new": new, "ref": ref} for old, new, ref in updates],
        "git_env": {name: os.environ[name] for name in QUARANTINE_VARS if name in os.environ},
    }
    request = urllib.request.Request(
        os.environ[HOOK_URL_VAR],
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {os.environ[HOOK_KEY_VAR]}", "Content-Type": "application/json"},
    )
    context = ssl.create_default_context(cafile=os.environ[HOOK_CA_VAR])
    pending = b""
    try:
        with urllib.request.urlopen(request, context=context, timeout=4000) as response:
            while data := response.read1(65536):
                # Print everything up to a NUL at once; only the exit line has one.
                head, nul, tail = (pending + data).partition(b"\0")
                stdout.write(head)
                stdout.flush()
                pending = nul + tail
                if pending.startswith(EXIT_MARKER) and pending.endswith(b"\n"):
                    return int(pending[len(EXIT_MARKER):])
    except OSError as error:
        stdout.write(f"\n !     The sandbox could not build this push: {error}\n".encode())
    else:
        stdout.write(b"\n !     Lost the connection to the sandbox during the build.\n")
    stdout.flush()
    return 1


if __name__ == "__main__":
    if sys.argv[1:] == ["pre-receive"]:
        sys.exit(pre_receive())
    sys.exit(f"usage: {sys.argv[0]} pre-receive")
