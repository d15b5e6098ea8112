"""The ``heroku run`` rendezvous: the TLS port where the CLI meets its attached dyno.

``POST /apps/{app}/dynos`` with ``attach: true`` answers an ``attach_url``
``rendezvous://127.0.0.1:PORT/SECRET``. The CLI opens TLS to it (verifying the
sandbox's certificate), writes ``SECRET\\r\\n`` and throws away the first chunk
it receives; everything after is the dyno's output, and what it writes is the
dyno's stdin, ended by ``\\x04``. The real CLI is unforgiving about three things
this module is careful with (reference §7):

* the greeting must arrive as a chunk of its own, or output is lost with it;
* with ``--exit-code`` it looks for ``\\uFFFF heroku-command-exit-status: N``
  in each chunk, so that line must never straddle two TLS records;
* closing while its bytes sit unread makes the kernel answer with a reset and
  the CLI fail with ``ECONNRESET``, so its input is drained and TLS is closed
  with a ``close_notify`` first.

As on Heroku, a CLI that hangs up (closed, killed, network gone) takes its dyno
down: the connection is watched until the command ends, even after the CLI has
sent all its input, and the dyno's processes get SIGHUP, then SIGKILL.

The server also owns the asyncio loop every one-off dyno runs on (see
:mod:`heroku_tools.sandbox.dynos`), reachable as ``sandbox.rendezvous.dynos``.
"""
from __future__ import annotations

import asyncio
import socket
import ssl
import threading

from .dynos import PLATFORM_ERROR, Dyno, DynoRuntime

GREETING = b"rendezvous\r\n"
SENTINEL = "\uFFFF heroku-command-exit-status:".encode()
EOT = b"\x04"
CHUNK = 65536

#: Seconds to wait for the secret line after the TLS handshake.
SECRET_TIMEOUT = 30.0
#: Seconds to wait for the CLI's first input, its sign that the greeting arrived alone.
FIRST_INPUT_WAIT = 0.5
#: Seconds an incomplete output line (a prompt) is held back before it is sent anyway.
PARTIAL_LINE_WAIT = 0.05
#: Seconds to wait, once the command is over, for the CLI to finish sending its input.
INPUT_DRAIN_TIMEOUT = 2.0
#: Seconds to wait for the CLI's ``close_notify`` when closing.
CLOSE_TIMEOUT = 2.0


class RendezvousServer:
    """The rendezvous listener and the dyno runtime, on one asyncio loop in a thread."""

    def __init__(self, sandbox, port: int = 0):
        self.sandbox = sandbox
        # Bound now so the port is known (and saved in the state) before start().
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.dynos = DynoRuntime(sandbox.state, ("127.0.0.1", self.port), self.loop)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rendezvous", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        if self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._session, sock=self.listener, ssl=self.sandbox.ssl_context, limit=CHUNK)
        )
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            self.dynos.shutdown()
            server.close()
            tasks = asyncio.all_tasks(self.loop)
            for task in tasks:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self.loop.close()

    # -- one connection ----------------------------------------------------------
    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            secret = await asyncio.wait_for(reader.readline(), SECRET_TIMEOUT)
            dyno = self.dynos.claim(secret.strip().decode("ascii", "replace"))
            if dyno is not None:  # an unknown secret is simply hung up on
                try:
                    await self._attach(dyno, reader, writer)
                finally:
                    dyno.kill()
                    self.dynos.finish(dyno)
        except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
            pass  # the CLI went away: its dyno is gone with it
        finally:
            await _close(writer)

    async def _attach(self, dyno: Dyno, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(GREETING)
        await writer.drain()
        # The CLI drops its first chunk and only then starts sending stdin, so
        # its first bytes mean the greeting was read alone; a CLI reading a
        # terminal sends nothing, hence the time limit.
        try:
            first = await asyncio.wait_for(reader.read(CHUNK), FIRST_INPUT_WAIT)
        except TimeoutError:
            first = b""
        else:
            if not first:
                return  # hung up before the dyno started
        if dyno.faulty:
            await _send(writer, PLATFORM_ERROR)
            await _drain_input(reader, first)
            return
        process = await dyno.spawn(
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        input_done = asyncio.Event()
        dyno.relayed("stdin_bytes", len(first))
        feeding = asyncio.ensure_future(_feed_input(reader, first, process, dyno, input_done))
        output = asyncio.ensure_future(_stream_output(process, writer, dyno))
        try:
            await process.wait()
            dyno.kill()  # the dyno ends with its command, background jobs included
            await output
            await asyncio.wait_for(input_done.wait(), INPUT_DRAIN_TIMEOUT)
        except TimeoutError:
            pass  # the CLI is still sending (from a terminal): close anyway
        finally:
            output.cancel()
            feeding.cancel()


async def _feed_input(reader: asyncio.StreamReader, data: bytes, process, dyno: Dyno, input_done: asyncio.Event) -> None:
    """Pipe the CLI's bytes to the command's stdin up to ``\\x04``, which closes it; then watch for a hang-up.

    Input the command no longer reads is discarded. The connection is read
    until it ends: a CLI that hangs up, before or after its ``\\x04``, takes
    the dyno down with it, as closing ``heroku run`` does on Heroku.
    """
    stdin_open = True
    while True:
        data, eot, _ = data.partition(EOT)
        if data and stdin_open:
            try:
                process.stdin.write(data)
                await process.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                stdin_open = False
        if eot:
            if stdin_open:
                process.stdin.close()
            stdin_open = False
            input_done.set()
        try:
            data = await reader.read(CHUNK)
        except (ConnectionError, ssl.SSLError, OSError):
            data = b""
        dyno.relayed("stdin_bytes", len(data))
        if not data:
            input_done.set()
            dyno.hang_up()
            return


async def _drain_input(reader: asyncio.StreamReader, seen: bytes) -> None:
    """Read and discard the CLI's bytes up to its ``\\x04`` (or a pause)."""
    try:
        while EOT not in seen:
            seen = await asyncio.wait_for(reader.read(CHUNK), INPUT_DRAIN_TIMEOUT)
            if not seen:
                return
    except TimeoutError:
        pass


async def _stream_output(process, writer: asyncio.StreamWriter, dyno: Dyno) -> None:
    """Send the command's output as it comes, by whole lines.

    Lines keep the exit-status sentinel whole; an incomplete line (a prompt)
    goes out once the command has been quiet for a moment. When the CLI can no
    longer be written to, it has hung up: the dyno is stopped, and what it
    still prints is read and dropped so it is never blocked on a full pipe.
    """
    pending = b""
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(process.stdout.read(CHUNK), PARTIAL_LINE_WAIT if pending else None)
            except TimeoutError:
                at = pending.find(SENTINEL)
                ready, pending = (pending, b"") if at < 0 else (pending[:at], pending[at:])
                await _send(writer, ready)
                dyno.relayed("stdout_bytes", len(ready))
                continue
            if not chunk:
                break
            pending += chunk
            end = pending.rfind(b"\n") + 1
            if end:
                await _send(writer, pending[:end])
                dyno.relayed("stdout_bytes", end)
                pending = pending[end:]
        await _send(writer, pending)
        dyno.relayed("stdout_bytes", len(pending))
    except (ConnectionError, ssl.SSLError, OSError):
        dyno.hang_up()
        while await process.stdout.read(CHUNK):
            pass


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Write ``data``, giving the exit-status sentinel a write (a TLS record) of its own."""
    at = data.find(SENTINEL)
    for piece in (data,) if at < 0 else (data[:at], data[at:]):
        if piece:
            writer.write(piece)
            await writer.drain()


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close TLS with a ``close_notify`` and wait for the CLI's, so nobody sees a reset."""
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT)
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
        pass
