"""The running instance's control socket: the command line's subcommands, run here.

A Unix socket in the data directory, readable and writable by the owner only. Each
connection carries one command line; it runs against the running instance, so a round
started from the terminal is armed by its scheduler, a track ingested is announced and
federated at once, a takedown sends its tombstone. A second instance on the same data
directory is refused at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from bots.cli.output import Output
from bots.cli.parser import parse_args
from bots.cli.subcommands import run_subcommand
from bots.control.protocol import MAX_LINE, socket_path
from bots.instance import Instance
from core.errors import ConfigError, WavepoolError

log = logging.getLogger(__name__)


class ControlServer:
    """Serves the control socket of one running instance."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self.path = socket_path(instance.data_dir)
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Listen; refuse when another instance already serves this data directory."""
        if self.path.exists():
            try:
                _, writer = await asyncio.open_unix_connection(str(self.path))
            except OSError:
                self.path.unlink(missing_ok=True)  # left by an instance that was killed
            else:
                writer.close()
                raise ConfigError(f"another instance is already running on {self._instance.data_dir}")
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_LINE)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        log.info("control socket %s", self.path)

    async def stop(self) -> None:
        """Stop listening and remove the socket."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            answer = await self.run(json.loads(line))
        except Exception as error:  # a bad request gets an answer, never a dead connection
            log.exception("control request failed")
            answer = {"rc": 1, "stdout": "", "stderr": f"wavepool: {type(error).__name__}: {error}\n"}
        writer.write(json.dumps(answer).encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run one command line against the instance; its exit code and output."""
        argv = [str(a) for a in request.get("argv") or ()]
        io = Output(cwd=Path(str(request.get("cwd") or "/")), buffered=True)
        try:
            args = parse_args(argv)
            rc = await run_subcommand(args, self._instance, io)
        except WavepoolError as error:
            io.err(str(error))
            rc = 1
        except SystemExit as exit_:  # argparse: the client already parsed the same line
            rc = int(exit_.code or 0)
        log.info("control: %s -> %d", " ".join(argv[:3]), rc)
        return {"rc": rc, "stdout": "".join(io.stdout), "stderr": "".join(io.stderr)}
