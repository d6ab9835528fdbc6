"""Running one ``wavepool`` subcommand against an opened instance.

Shared by the command line (in-process, when no instance runs) and the control socket
(inside the running instance)."""

from __future__ import annotations

import argparse

from bots.cli import commands, federation_commands
from bots.cli.output import Output
from bots.instance import Instance


async def run_subcommand(args: argparse.Namespace, instance: Instance, io: Output) -> int:
    """Run a parsed subcommand (anything but ``run``) against an opened instance."""
    if args.command in ("peers", "federation"):
        handler = federation_commands.peers if args.command == "peers" else federation_commands.federation
        return await handler(args, instance, io)
    handlers = {
        "ingest": commands.ingest,
        "show": commands.show,
        "pool": commands.pool,
        "export": commands.export,
        "cmd": commands.cmd,
    }
    return await handlers[args.command](args, instance, io)
