"""``wavepool``: run the instance, ingest, show, check the pool, call any declared command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from config import ConfigInvalid, Settings, load_settings
from core.errors import WavepoolError

if TYPE_CHECKING:
    from bots.cli.output import Output
    from bots.instance import Instance

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wavepool", description=__doc__)
    parser.add_argument("--config", type=Path, help="TOML config file (default: $WAVEPOOL_CONFIG or built-in defaults)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("run", help="run the instance: storage, scheduler, HTTP server, configured bots")

    ingest = sub.add_parser("ingest", help="ingest an audio file or a link into the pool")
    ingest.add_argument("source", help="a local file or an http(s) URL")
    ingest.add_argument("--by", required=True, help="who shares it (display name)")
    ingest.add_argument("--user-id", help="the sharer's id (default: the --by name)")
    ingest.add_argument("--generator", help="the generator that made it (suno, udio, ...)")
    ingest.add_argument("--prompt", help="the prompt it was made with")
    ingest.add_argument("--style", help="the style text")
    ingest.add_argument("--genre", help="the genre the sharer chooses")
    ingest.add_argument("--title", help="a title (default: from tags or the file name)")
    ingest.add_argument("--json", action="store_true", help="print the track record as JSON")

    show = sub.add_parser("show", help="show a track card: metadata, quality, evidence, verdict")
    show.add_argument("ref", help="track id, CID, or a unique prefix of either")
    show.add_argument("--json", action="store_true", help="print the track record as JSON")

    pool = sub.add_parser("pool", help="check and maintain the blob pool")
    pool_sub = pool.add_subparsers(dest="pool_command", required=True, metavar="ACTION")
    pool_sub.add_parser("verify", help="re-hash every blob; isolate and report corrupt ones")
    pool_sub.add_parser("gc", help="delete blobs no track references")
    pool_sub.add_parser("stats", help="blobs, bytes and tracks")

    export = sub.add_parser("export", help="write every track record as JSON lines")
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")

    peers = sub.add_parser("peers", help="instances seen in the federation rooms")
    peers.add_argument("--json", action="store_true", help="print as JSON")
    fed = sub.add_parser("federation", help="federation rooms: join, leave, status, snapshot")
    fed_sub = fed.add_subparsers(dest="federation_command", required=True, metavar="ACTION")
    fed_sub.add_parser("status", help="rooms, checkpoint, fetch queue and failures")
    fed_sub.add_parser("snapshot", help="publish a snapshot of the manifest index for late joiners")
    for action in ("join", "leave"):
        fed_action = fed_sub.add_parser(action, help=f"{action} a federation room")
        fed_action.add_argument("room", help="room id or alias")

    cmd = sub.add_parser("cmd", help="call any chat command as the operator, e.g. `wavepool cmd round status`")
    cmd.add_argument("--as", dest="as_user", metavar="NAME",
                     help="run as this member instead of the operator (permissions of a member)")
    cmd.add_argument("words", nargs=argparse.REMAINDER, help="command name and arguments, as in chat")
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The parsed command line (argparse exits with its usage message on errors)."""
    return _parser().parse_args(argv)


def _changes_state(args: argparse.Namespace) -> bool:
    """Whether the subcommand changes the instance (and so should say where it ran)."""
    if args.command in ("ingest", "cmd"):
        return True
    if args.command == "pool":
        return bool(args.pool_command == "gc")
    return args.command == "federation" and args.federation_command != "status"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wavepool`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigInvalid as err:
        print(f"wavepool: config: {err}", file=sys.stderr)
        return 2
    from bots.logging_setup import setup_logging

    quiet = args.command != "run"
    setup_logging("WARNING" if quiet else settings.instance.log_level, settings.instance.log_format)
    try:
        return asyncio.run(_dispatch(args, _without_config(argv), settings))
    except WavepoolError as err:
        print(f"wavepool: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `wavepool export | head -1`: the reader had enough
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


def _without_config(argv: list[str]) -> list[str]:
    """The arguments to forward to the running instance (which has its own config)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--config":
            skip = True
        elif not arg.startswith("--config="):
            out.append(arg)
    return out


async def _dispatch(args: argparse.Namespace, argv: list[str], settings: Settings) -> int:
    if args.command == "run":
        from bots.runtime import run_instance

        await run_instance(settings)
        return 0
    from bots.control.client import send

    answer = await send(settings.data_dir, argv, Path.cwd())
    if answer is not None:
        sys.stdout.write(str(answer.get("stdout") or ""))
        sys.stdout.flush()
        sys.stderr.write(str(answer.get("stderr") or ""))
        if _changes_state(args):
            sys.stderr.write("wavepool: done by the running instance\n")
        return int(answer.get("rc") or 0)
    from bots.cli.output import Output
    from bots.runtime import open_instance

    async with open_instance(settings) as instance:
        rc = await run_subcommand(args, instance, Output())
    if _changes_state(args):
        sys.stderr.write(f"wavepool: no instance is running on {settings.data_dir}: done here; its posts and "
                         "federation follow at the next `wavepool run`\n")
    return rc


async def run_subcommand(args: argparse.Namespace, instance: Instance, io: Output) -> int:
    """Run a parsed subcommand (anything but ``run``) against an opened instance."""
    from bots.cli import commands, federation_commands

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


if __name__ == "__main__":
    raise SystemExit(main())
