"""Where the bot posts and listens: ``channel set`` and ``watch add/remove/list``.

A place is checked by the platform's adapter when it is set (``here`` is the room or
channel of the command; Matrix aliases resolve; the bot must be able to post there), so a
moderator learns at once that a place is wrong, not when the first post fails.
"""

from __future__ import annotations

from core.app import App
from core.commands.common import arg, lines_of, need
from core.commands.declaration import Command, Invocation, Param, ParamKind, Permission, Reply
from core.errors import UsageError
from core.services.genres import GenreService

HERE = "here"
CLEAR = ("-", "none")


async def checked_place(inv: Invocation, place: str | None) -> str:
    """The id of a place the bot can post to, as the platform's adapter checks it."""
    text = (place or HERE).strip()
    if inv.places is not None:
        return await inv.places.check(text, inv.place)
    if text.lower() == HERE:
        if inv.platform == "cli":
            raise UsageError("`here` is the room or channel of a chat command; from the terminal give its id")
        return inv.place
    return text


async def place_name(inv: Invocation, place: str) -> str:
    """A place as members read it."""
    if inv.places is not None:
        return await inv.places.name(place)
    return place


def place_commands(app: App) -> list[Command]:
    """Declarations of the commands about places."""

    def genres() -> GenreService:
        service: GenreService = need(app.genres, "channels")
        return service

    async def channel_set(inv: Invocation) -> Reply:
        service = genres()
        purpose = arg(inv, "purpose")
        raw = arg(inv, "place")
        place = None if raw in CLEAR else await checked_place(inv, raw)
        await service.set_announcement_place(purpose, inv.platform, place)
        where = await place_name(inv, place) if place else "the configured place"
        return Reply(text=f"{purpose.capitalize()} posts on {inv.platform} now go to {where}.", data={"place": place})

    async def watch(inv: Invocation, on: bool) -> Reply:
        service = genres()
        place = await checked_place(inv, arg(inv, "place"))
        changed = await service.set_watched(inv.platform, place, on)
        name = await place_name(inv, place)
        if on:
            text = f"Audio posted in {name} is now shared." if changed else f"{name} is already watched."
        else:
            text = f"Audio posted in {name} is no longer shared." if changed else f"{name} was not watched."
        return Reply(text=text, data={"place": place, "changed": changed})

    async def watch_add(inv: Invocation) -> Reply:
        return await watch(inv, True)

    async def watch_remove(inv: Invocation) -> Reply:
        return await watch(inv, False)

    async def watch_list(inv: Invocation) -> Reply:
        places = await genres().watched(inv.platform)
        names = [await place_name(inv, p) for p in places]
        return Reply(
            title=f"Watched on {inv.platform}",
            text=lines_of(names, "No room or channel is watched: shares work by command or as a reply."),
            data={"places": places},
        )

    place = Param("place", ParamKind.TEXT, "channel or room (id, alias or `here`)", required=False)
    return [
        Command(
            "channel set",
            "Choose where round announcements, digests or unsorted tracks are posted",
            channel_set,
            (
                Param(
                    "purpose",
                    ParamKind.CHOICE,
                    "what is posted there",
                    choices=("round", "digest", "default", "moderators"),
                ),
                Param("place", ParamKind.TEXT, "channel or room (id, alias or `here`); 'none' to clear"),
            ),
            Permission.MODERATOR,
        ),
        Command(
            "watch add",
            "Share the audio posted in a room/channel (default: here)",
            watch_add,
            (place,),
            Permission.MODERATOR,
        ),
        Command(
            "watch remove",
            "Stop sharing a room/channel's audio (default: here)",
            watch_remove,
            (place,),
            Permission.MODERATOR,
        ),
        Command("watch list", "The rooms/channels whose audio is shared", watch_list),
    ]
