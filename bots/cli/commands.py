"""The command line's subcommands: thin calls into an opened instance."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bots.cli.render import card_text, track_json, track_record
from bots.federation.part import federation_rooms
from bots.runtime import Instance, open_instance
from config import Settings
from core.errors import NotFoundError, UsageError
from core.model import Declaration, Sharer, Track
from storage.sqlite.federation_store import SqliteFederationStore


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


async def ingest(args: argparse.Namespace, settings: Settings) -> int:
    """``wavepool ingest FILE|URL --by NAME ...``."""
    sharer = Sharer("cli", args.user_id or args.by, args.by)
    declaration = Declaration(generator=args.generator, prompt=args.prompt, style=args.style,
                              genre=args.genre, title=args.title)
    source: str = args.source
    async with open_instance(settings) as instance:
        share = instance.app.share
        await _queue_accepted_for_federation(instance)
        if "://" in source:
            reply = await share.share_url(source, sharer, declaration)
        else:
            path = Path(source)
            if not path.is_file():
                raise UsageError(f"no such file: {source}")
            reply = await share.share_file(path, sharer, declaration, filename=path.name)
        track = reply.cards[0]
        if args.json:
            _out(track_json(track))
        else:
            _out(reply.text)
            _out(card_text(track, await instance.app.tracks.shares(track.id)))
    return 0


async def _queue_accepted_for_federation(instance: Instance) -> None:
    """Put tracks this command accepts in the federation outbox, which the running instance sends."""
    if not instance.settings.matrix.homeserver or not await federation_rooms(instance):
        return
    store = SqliteFederationStore(instance.db)

    async def queue(track: Track) -> None:
        await store.outbox_add("track", {"track_id": track.id})

    instance.app.share.on_accepted(queue)


async def show(args: argparse.Namespace, settings: Settings) -> int:
    """``wavepool show REF``."""
    async with open_instance(settings) as instance:
        track = await instance.app.tracks.resolve(args.ref)
        if track is None:
            raise NotFoundError(f"no track matches {args.ref!r}")
        if args.json:
            _out(track_json(track))
        else:
            _out(card_text(track, await instance.app.tracks.shares(track.id)))
    return 0


async def pool(args: argparse.Namespace, settings: Settings) -> int:
    """``wavepool pool verify|gc|stats``."""
    async with open_instance(settings) as instance:
        app = instance.app
        if args.pool_command == "verify":
            report = await app.pool.verify()
            _out(f"checked {report.checked} blobs ({report.bytes_checked / 1048576:.1f} MB): "
                 f"{report.ok} ok, {len(report.corrupt)} corrupt")
            for cid in report.corrupt:
                _out(f"  corrupt, moved aside: {cid}")
            return 1 if report.corrupt else 0
        if args.pool_command == "gc":
            referenced = await app.tracks.referenced_cids()
            removed = 0
            async for cid in app.pool.cids():
                if cid not in referenced and await app.pool.delete(cid):
                    removed += 1
            _out(f"removed {removed} unreferenced blobs")
            return 0
        blobs = 0
        async for _ in app.pool.cids():
            blobs += 1
        _out(f"{blobs} blobs, {await app.pool.total_bytes() / 1048576:.1f} MB, "
             f"{await app.tracks.count()} tracks, data in {instance.data_dir}")
        return 0


async def export(args: argparse.Namespace, settings: Settings) -> int:
    """``wavepool export``: every track record as JSON lines."""
    async with open_instance(settings) as instance:
        tracks = await instance.app.tracks.recent(limit=10_000_000)
        lines = [json.dumps(track_record(t), ensure_ascii=False, default=str) for t in reversed(tracks)]
    text = "\n".join(lines) + ("\n" if lines else "")
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        _out(f"wrote {len(lines)} tracks to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


async def cmd(args: argparse.Namespace, settings: Settings) -> int:
    """``wavepool cmd NAME ARGS``: run a declared chat command as the operator."""
    from bots.cli.chat_commands import run_chat_command

    async with open_instance(settings) as instance:
        text, ok = await run_chat_command(instance, args.words, args.as_user)
    (_out if ok else _err)(text)
    return 0 if ok else 1


def _err(text: str) -> None:
    sys.stderr.write(f"wavepool: {text}\n")
