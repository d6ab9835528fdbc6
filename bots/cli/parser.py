"""The ``wavepool`` command line's parser: light, so a command that the running instance
runs through its control socket does not import the instance's code first."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

DESCRIPTION = "wavepool: run the instance, ingest, show, check the pool, call any declared command."


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wavepool", description=DESCRIPTION)
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
    fed = sub.add_parser("federation", help="federation rooms: create, join, leave, status, snapshot, retry, drop")
    fed_sub = fed.add_subparsers(dest="federation_command", required=True, metavar="ACTION")
    fed_status = fed_sub.add_parser("status", help="per room, fetch queue, outbox, parked items, rate limits")
    fed_status.add_argument("--json", action="store_true", help="print as JSON")
    fed_sub.add_parser("snapshot", help="publish a snapshot of the manifest index for late joiners")
    for action in ("join", "leave"):
        fed_action = fed_sub.add_parser(action, help=f"{action} a federation room (at once in the running instance)")
        fed_action.add_argument("room", help="room id or alias")
    create = fed_sub.add_parser("create", help="create a federation room with the right power levels, and join it")
    create.add_argument("alias", help="#name:your.server (or just name)")
    create.add_argument("--name", help="the room's display name (default: Wavepool federation)")
    create.add_argument("--public", action="store_true", help="anyone may join by alias (default: invite only)")
    create.add_argument("--invite", action="append", default=[], metavar="USER", help="a peer's bot account to invite")
    retry = fed_sub.add_parser("retry", help="send a parked outbox item or fetch a parked track again")
    retry.add_argument("item", help="an outbox item number, a track id or CID (prefix), or `all`")
    drop = fed_sub.add_parser("drop", help="forget a parked outbox item or a parked fetch")
    drop.add_argument("item", help="an outbox item number, or a track id or CID (prefix)")

    cmd = sub.add_parser("cmd", help="call any chat command as the operator, e.g. `wavepool cmd round status`")
    cmd.add_argument(
        "--as",
        dest="as_user",
        metavar="NAME",
        help="run as this member instead of the operator (permissions of a member)",
    )
    cmd.add_argument("words", nargs=argparse.REMAINDER, help="command name and arguments, as in chat")
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The parsed command line (argparse exits with its usage message on errors)."""
    return _parser().parse_args(argv)


# chat commands that only read: run against a data directory that does not exist yet, they
# create nothing (an empty instance in a temporary directory answers them)
READ_ONLY_COMMANDS = (
    "help",
    "search",
    "track",
    "genres",
    "peers",
    "prompt search",
    "prompt show",
    "prompt top",
    "round status",
    "round results",
    "digest preview",
)


def read_only(args: argparse.Namespace) -> bool:
    """Whether the subcommand only reads (``wavepool cmd help``, ``cmd search …``)."""
    if args.command != "cmd":
        return False
    words = [w.lower() for w in getattr(args, "words", None) or ["help"]]
    return words[0] in READ_ONLY_COMMANDS or " ".join(words[:2]) in READ_ONLY_COMMANDS


def changes_state(args: argparse.Namespace) -> bool:
    """Whether the subcommand changes the instance (and so should say where it ran)."""
    if args.command in ("ingest", "cmd"):
        return True
    if args.command == "pool":
        return bool(args.pool_command == "gc")
    return bool(args.command == "federation" and args.federation_command != "status")  # create/retry/drop too
