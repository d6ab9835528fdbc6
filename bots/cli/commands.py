"""The command line's subcommands: thin calls into an opened instance.

Each takes the parsed arguments, an ``Instance`` and an ``Output``: the same function runs
in the ``wavepool`` process (no instance running) or inside the running instance when the
command line reaches it through the control socket.
"""

from __future__ import annotations

import argparse
import json

from bots.cli.output import Output
from bots.cli.render import card_text, track_json, track_record
from bots.instance import Instance
from core.errors import NotFoundError, UsageError
from core.model import Declaration, Sharer
from core.views.tracks import share_reply


async def ingest(args: argparse.Namespace, instance: Instance, io: Output) -> int:
    """``wavepool ingest FILE|URL --by NAME ...``."""
    sharer = Sharer("cli", args.user_id or args.by, args.by)
    declaration = Declaration(
        generator=args.generator, prompt=args.prompt, style=args.style, genre=args.genre, title=args.title
    )
    source: str = args.source
    share = instance.app.share
    if "://" in source:
        outcome = await share.share_url(source, sharer, declaration)
    else:
        path = io.path(source)
        if not path.is_file():
            raise UsageError(f"no such file: {source}")
        outcome = await share.share_file(path, sharer, declaration, filename=path.name)
    track = outcome.track
    reply = share_reply(outcome)
    if args.json:
        io.out(track_json(track))
    else:
        io.out(reply.text)
        io.out(card_text(track, await instance.app.tracks.shares(track.id)))
    return 0


async def show(args: argparse.Namespace, instance: Instance, io: Output) -> int:
    """``wavepool show REF``."""
    track = await instance.app.tracks.resolve(args.ref)
    if track is None:
        raise NotFoundError(f"no track matches {args.ref!r}")
    if args.json:
        io.out(track_json(track))
    else:
        io.out(card_text(track, await instance.app.tracks.shares(track.id)))
    return 0


async def pool(args: argparse.Namespace, instance: Instance, io: Output) -> int:
    """``wavepool pool verify|gc|stats``."""
    app = instance.app
    if args.pool_command == "verify":
        report = await app.pool.verify()
        io.out(
            f"checked {report.checked} blobs ({report.bytes_checked / 1048576:.1f} MB): "
            f"{report.ok} ok, {len(report.corrupt)} corrupt"
        )
        for cid in report.corrupt:
            io.out(f"  corrupt, moved aside: {cid}")
        return 1 if report.corrupt else 0
    if args.pool_command == "gc":
        referenced = await app.tracks.referenced_cids()
        removed = 0
        async for cid in app.pool.cids():
            if cid not in referenced and await app.pool.delete(cid):
                removed += 1
        io.out(f"removed {removed} unreferenced blobs")
        return 0
    blobs = 0
    async for _ in app.pool.cids():
        blobs += 1
    io.out(
        f"{blobs} blobs, {await app.pool.total_bytes() / 1048576:.1f} MB, "
        f"{await app.tracks.count()} tracks, data in {instance.data_dir}"
    )
    return 0


async def export(args: argparse.Namespace, instance: Instance, io: Output) -> int:
    """``wavepool export``: every track record as JSON lines."""
    tracks = await instance.app.tracks.recent(limit=10_000_000)
    lines = [json.dumps(track_record(t), ensure_ascii=False, default=str) for t in reversed(tracks)]
    text = "\n".join(lines) + ("\n" if lines else "")
    if args.out:
        io.path(args.out).write_text(text, encoding="utf-8")
        io.out(f"wrote {len(lines)} tracks to {args.out}")
    else:
        io.raw(text)
    return 0


async def cmd(args: argparse.Namespace, instance: Instance, io: Output) -> int:
    """``wavepool cmd NAME ARGS``: run a declared chat command as the operator."""
    from bots.cli.chat_commands import run_chat_command

    text, ok = await run_chat_command(instance, args.words, args.as_user, cwd=io.cwd)
    (io.out if ok else io.err)(text)
    return 0 if ok else 1
