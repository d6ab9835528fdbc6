"""Commands about tracks: share, track, search, genres, genre set/move."""

from __future__ import annotations

from core.app import App
from core.commands.common import arg, lines_of, need, sharer_of, viewer_of
from core.commands.curation_commands import RELATIONS, share_derived, with_curation_lines
from core.commands.declaration import Command, Invocation, Param, ParamKind, Permission, Reply
from core.commands.place_commands import checked_place, place_name
from core.commands.track_refs import resolve_track
from core.errors import PermissionDeniedError, UsageError
from core.model import Declaration
from core.views.tracks import card_reply, share_reply
from core.visibility import can_see

_URL_PREFIXES = ("http://", "https://")


def track_commands(app: App) -> list[Command]:
    """Declarations of the track commands."""

    async def share(inv: Invocation) -> Reply:
        declaration = Declaration(
            generator=arg(inv, "generator"),
            prompt=arg(inv, "prompt"),
            style=arg(inv, "style"),
            genre=arg(inv, "genre"),
            title=arg(inv, "title"),
        )
        if arg(inv, "remix_of"):  # issue 17: a derived share (remix, stems ...) is linked to its parent
            return await share_derived(app, inv, declaration)
        url = arg(inv, "url")
        if inv.attachments:
            attachment = inv.attachments[0]
            return share_reply(
                await app.share.share_file(
                    attachment.path,
                    sharer_of(inv),
                    declaration,
                    inv.place,
                    filename=attachment.filename,
                    source_url=attachment.source_url or inv.message_ref,
                )
            )
        if url:
            if not str(url).lower().startswith(_URL_PREFIXES):
                raise UsageError("share a link starting with http:// or https://, or attach an audio file")
            return share_reply(await app.share.share_url(str(url), sharer_of(inv), declaration, inv.place))
        raise UsageError(
            "give a link or attach an audio file to share, or send `share` as a reply to an audio or link message"
        )

    async def track(inv: Invocation) -> Reply:
        found = await resolve_track(app, arg(inv, "track"), inv, viewer_of(inv))
        if app.voting is not None:  # an anonymous round's entry keeps its sharer hidden until results
            found = (await app.voting.mask_entrants([found], inv.platform, inv.user_id))[0]
        return await with_curation_lines(app, card_reply(found), found, viewer_of(inv))  # issue 17

    async def search(inv: Invocation) -> Reply:
        viewer = viewer_of(inv)
        found = [t for t in await app.tracks.search(arg(inv, "text"), limit=40) if can_see(t, viewer)][:10]
        if app.voting is not None:  # an anonymous round's entry keeps its sharer hidden until results
            found = await app.voting.mask_entrants(found, inv.platform, inv.user_id)
        lines = [f"{t.id[:8]}  {t.title} — {t.sharer.display_name} ({t.genre or 'unsorted'})" for t in found]
        return Reply(
            title=f"Tracks matching '{arg(inv, 'text')}'",
            text=lines_of(lines, "No track matches."),
            cards=tuple(found[:3]),
            data={"tracks": [t.id for t in found]},
        )

    async def genres(inv: Invocation) -> Reply:
        service = need(app.genres, "genre channels")
        lines = []
        for name in service.names():
            genre = service.get(name)
            places = await service.places_of(name)
            where = places.get(inv.platform)
            aliases = f" ({', '.join(genre.aliases)})" if genre.aliases else ""
            lines.append(f"{name}{aliases}" + (f" → {where}" if where else ""))
        return Reply(title="Genres", text="\n".join(lines), data={"genres": service.names()})

    async def genre_set(inv: Invocation) -> Reply:
        service = need(app.genres, "genre channels")
        place = arg(inv, "place")
        place = None if place in ("-", "none", "default") else await checked_place(inv, place)
        genre = await service.set_place(arg(inv, "genre"), inv.platform, place)
        where = await place_name(inv, place) if place else "the default channel"
        return Reply(text=f"New {genre.name} tracks on {inv.platform} now go to {where}.")

    async def genre_move(inv: Invocation) -> Reply:
        service = need(app.genres, "genre channels")
        found = await resolve_track(app, arg(inv, "track"), inv, viewer_of(inv))
        mine = (found.sharer.platform, found.sharer.user_id) == (inv.platform, inv.user_id)
        if not mine and inv.permission < Permission.MODERATOR:
            raise PermissionDeniedError("you can move your own tracks only; ask a moderator")
        genre = service.get(arg(inv, "genre"))
        await app.tracks.set_genre(found.id, genre.name)
        return Reply(text=f"Moved {found.title} to {genre.name}.")

    return [
        Command(
            "share",
            "Share a track: give a link, attach the audio, or reply with it to an audio or link message",
            share,
            (
                Param("url", ParamKind.TEXT, "link to a generator page, media page or audio file", required=False),
                Param("file", ParamKind.ATTACHMENT, "an audio file", required=False),
                Param("genre", ParamKind.TEXT, "the genre you choose", required=False, autocomplete="genres"),
                Param("prompt", ParamKind.TEXT, "the prompt you used", required=False),
                Param("style", ParamKind.TEXT, "the style text you used", required=False),
                Param("generator", ParamKind.TEXT, "the generator (suno, udio, ...)", required=False),
                Param("title", ParamKind.TEXT, "a title", required=False),
                Param(
                    "remix_of", ParamKind.TRACK, "the track this derives from", required=False, autocomplete="tracks"
                ),
                Param("relation", ParamKind.CHOICE, "how it derives", required=False, choices=RELATIONS),
            ),
        ),
        Command(
            "track",
            "Show a track's card",
            track,
            (Param("track", ParamKind.TRACK, "track id or pool address", autocomplete="my_tracks"),),
        ),
        Command(
            "search",
            "Search tracks by title, artist, prompt, style or genre",
            search,
            (Param("text", ParamKind.TEXT, "words to look for", rest=True),),
        ),
        Command("genres", "List the genres and where they are posted", genres),
        Command(
            "genre set",
            "Choose the channel/room a genre is posted to (here: this platform)",
            genre_set,
            (
                Param("genre", ParamKind.TEXT, "genre name or alias", autocomplete="genres"),
                Param("place", ParamKind.TEXT, "channel or room (id, alias or `here`); 'default' to clear"),
            ),
            Permission.MODERATOR,
        ),
        Command(
            "genre move",
            "Move a track to another genre (your own; moderators: any)",
            genre_move,
            (
                Param("track", ParamKind.TRACK, "track id", autocomplete="my_tracks"),
                Param("genre", ParamKind.TEXT, "genre name or alias", autocomplete="genres"),
            ),
        ),
    ]
