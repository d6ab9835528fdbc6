"""Prompt library, digest and moderation commands."""

from __future__ import annotations

from core.app import App
from core.commands.common import arg, lines_of, need, sharer_of, viewer_of
from core.commands.declaration import Command, Invocation, Param, ParamKind, Permission, Reply
from core.commands.place_commands import checked_place, place_name
from core.commands.track_refs import resolve_track
from core.errors import UsageError
from core.replies import command_hint
from core.services.prompts import Prompt
from core.views.digest import digest_reply


def _prompt_line(prompt: Prompt) -> str:
    text = prompt.text if len(prompt.text) <= 120 else prompt.text[:117] + "…"
    votes = f" · {prompt.votes} vote{'' if prompt.votes == 1 else 's'}" if prompt.votes else ""
    count = len(prompt.track_ids)
    tracks = f" · {count} track{'' if count == 1 else 's'}" if count else ""
    return f"{prompt.id[:8]}  [{prompt.kind}] {text}{tracks}{votes}"


def prompt_commands(app: App) -> list[Command]:
    """Declarations of the prompt library commands."""

    async def save(inv: Invocation) -> Reply:
        prompts = need(app.prompts, "the prompt library")
        track_id = None
        if arg(inv, "track"):
            track_id = (await resolve_track(app, arg(inv, "track"), inv, viewer_of(inv))).id
        settings = {k: v for k, v in (("model", arg(inv, "model")), ("seed", arg(inv, "seed"))) if v}
        prompt, created = await prompts.save(
            arg(inv, "text"),
            arg(inv, "kind", "prompt"),
            sharer_of(inv),
            generator=arg(inv, "generator"),
            settings=settings or None,
            track_id=track_id,
        )
        verb = "Saved" if created else "Already in the library"
        return Reply(text=f"{verb}: {_prompt_line(prompt)}", data={"prompt": prompt.id, "created": created})

    async def search(inv: Invocation) -> Reply:
        prompts = need(app.prompts, "the prompt library")
        found = list(await prompts.search(arg(inv, "text"), limit=10))
        return Reply(
            title=f"Prompts matching '{arg(inv, 'text')}'",
            text=lines_of([_prompt_line(p) for p in found], "No prompt matches."),
            data={"prompts": [p.id for p in found]},
        )

    async def show(inv: Invocation) -> Reply:
        prompts = need(app.prompts, "the prompt library")
        prompt = await prompts.show(arg(inv, "prompt"))
        like = list(await prompts.more_like(prompt.id, limit=5))
        author = prompt.author.display_name if prompt.author else "unknown"
        fields = [("Kind", prompt.kind), ("Author", author), ("Saved", f"{prompt.created_at:%Y-%m-%d}")]
        if prompt.generator:
            fields.append(("Generator", prompt.generator))
        for key, value in (prompt.settings or {}).items():
            fields.append((str(key).capitalize(), str(value)))
        if prompt.track_ids:
            fields.append(("Tracks", ", ".join(t[:8] for t in prompt.track_ids[:10])))
        text = prompt.text
        if like:
            text += "\n\nMore like this:\n" + "\n".join(_prompt_line(p) for p in like)
        return Reply(
            title=f"Prompt {prompt.id[:8]}",
            text=text,
            fields=tuple(fields),
            data={"prompt": prompt.id, "like": [p.id for p in like]},
        )

    async def top(inv: Invocation) -> Reply:
        prompts = need(app.prompts, "the prompt library")
        found = list(await prompts.top(limit=10))
        return Reply(
            title="Top prompts",
            text=lines_of(
                [_prompt_line(p) for p in found],
                f"No prompt has votes yet (`{command_hint('prompt search <words>')}` finds every prompt).",
            ),
            data={"prompts": [p.id for p in found]},
        )

    return [
        Command(
            "prompt save",
            "Save a prompt or style text to the library",
            save,
            (
                Param("text", ParamKind.TEXT, "the prompt", rest=True),
                Param(
                    "kind",
                    ParamKind.CHOICE,
                    "prompt, style or lyrics",
                    required=False,
                    choices=("prompt", "style", "lyrics"),
                ),
                Param("generator", ParamKind.TEXT, "generator (suno, udio, ...)", required=False),
                Param("model", ParamKind.TEXT, "model version", required=False),
                Param("seed", ParamKind.TEXT, "seed", required=False),
                Param("track", ParamKind.TRACK, "a track made with it", required=False, autocomplete="my_tracks"),
            ),
        ),
        Command(
            "prompt search",
            "Search the prompt library",
            search,
            (Param("text", ParamKind.TEXT, "words to look for", rest=True),),
        ),
        Command(
            "prompt show",
            "Show a prompt, its tracks and similar prompts",
            show,
            (Param("prompt", ParamKind.TEXT, "prompt id", autocomplete="prompts"),),
        ),
        Command("prompt top", "Prompts whose tracks got the most votes", top),
    ]


def digest_commands(app: App) -> list[Command]:
    """Digest preview and publish."""

    async def preview(inv: Invocation) -> Reply:
        digest = need(app.digest, "the weekly digest")
        return digest_reply(await digest.preview())

    async def publish(inv: Invocation) -> Reply:
        digest = need(app.digest, "the weekly digest")
        where = await app.destination("digest", inv.platform) if inv.platform != "cli" else None
        if inv.platform != "cli":  # never say "published" for a post that cannot go out
            if where is None:
                raise UsageError(
                    f"the digest has no place on {inv.platform}: "
                    f"`{command_hint('channel set digest here')}` or `{command_hint('watch add')}` first"
                )
            where = await checked_place(inv, where)
        await digest.publish_now()
        target = f" to {await place_name(inv, where)}" if where else "; the bots post it where each has a place"
        return Reply(text=f"Digest published{target}.", private=True, data={"place": where})

    return [
        Command("digest preview", "Show this week's digest as it stands", preview),
        Command("digest publish", "Publish the digest now", publish, permission=Permission.MODERATOR),
    ]


def moderation_commands(app: App) -> list[Command]:
    """Review queue and decisions."""

    async def review(inv: Invocation) -> Reply:
        queue = await app.moderation.queue()
        lines = [f"{t.id[:8]}  {t.title} — {t.sharer.display_name}: {t.verdict_reason}" for t in queue]
        return Reply(
            title="Review queue",
            text=lines_of(lines, "Nothing waits for review."),
            cards=tuple(queue[:3]),
            data={"tracks": [t.id for t in queue]},
        )

    async def approve(inv: Invocation) -> Reply:
        track = await app.moderation.approve(arg(inv, "track"), sharer_of(inv), arg(inv, "reason"))
        if app.prompts is not None:  # held back from the library while it waited for review
            await app.prompts.autofill_from_track(track)
        where = await app.destination(f"genre:{track.genre}" if track.genre else "default", inv.platform)
        posted = (
            f"it is posted to {await place_name(inv, where)}."
            if where
            else f"no channel takes its genre on {inv.platform} yet "
            f"(`{command_hint('genre set <genre> <place>')}` or `{command_hint('channel set default <place>')}`)."
            if inv.platform != "cli"
            else "the bots post it to its genre's channels."
        )
        return Reply(text=f"Approved {track.title}; {posted}", cards=(track,), data={"track": track.id})

    async def reject(inv: Invocation) -> Reply:
        track = await app.moderation.reject(arg(inv, "track"), sharer_of(inv), arg(inv, "reason"))
        return Reply(text=f"Rejected {track.title}.", data={"track": track.id})

    async def takedown(inv: Invocation) -> Reply:
        track, deleted = await app.moderation.takedown(arg(inv, "track"), sharer_of(inv), arg(inv, "reason"))
        blob = "its audio was deleted" if deleted else "its audio stays (another track uses the same bytes)"
        return Reply(text=f"Took down {track.title}; {blob}.", data={"track": track.id, "deleted": deleted})

    track_param = Param("track", ParamKind.TRACK, "track id or pool address")
    reason = Param("reason", ParamKind.TEXT, "why", required=False, rest=True)
    return [
        Command("review", "The quarantine queue", review, permission=Permission.MODERATOR),
        Command("approve", "Accept a quarantined track", approve, (track_param, reason), Permission.MODERATOR),
        Command("reject", "Refuse a track", reject, (track_param, reason), Permission.MODERATOR),
        Command(
            "takedown", "Take a track down on this instance", takedown, (track_param, reason), Permission.MODERATOR
        ),
    ]


def federation_commands(app: App) -> list[Command]:
    """Peers and federation status, when this instance federates."""

    async def peers(inv: Invocation) -> Reply:
        info = need(app.federation, "federation")
        stats = list(await info.peer_stats())
        lines = [
            f"{s.peer.name} ({s.peer.instance_id}) — {s.entries} tracks, {s.bytes / 1048576:.1f} MB"
            + (f", last seen {s.peer.last_seen:%Y-%m-%d %H:%M}" if s.peer.last_seen else "")
            for s in stats
        ]
        return Reply(
            title="Peers",
            text=lines_of(lines, "No peer instance seen yet."),
            data={"peers": [s.peer.instance_id for s in stats]},
        )

    async def status(inv: Invocation) -> Reply:
        info = need(app.federation, "federation")
        state = dict(await info.status())
        fields = [
            ("Rooms", ", ".join(state.get("rooms") or ()) or "none"),
            ("Waiting to join", ", ".join(state.get("waiting") or ()) or "none"),
            ("Fetch queue", str(state.get("queue"))),
            ("Outbox", str(state.get("outbox"))),
        ]
        failing = [f"{f['cid'][:16]}… ({f['attempts']}×): {f['error']}" for f in state.get("failures") or ()]
        return Reply(
            title=f"Federation of {state.get('instance')}",
            text=lines_of(failing, "No failing fetches."),
            fields=tuple(fields),
            private=True,
            data=state,
        )

    return [
        Command("peers", "Instances this one federates with", peers),
        Command("federation status", "Federation rooms, queue and failures", status, permission=Permission.MODERATOR),
    ]
