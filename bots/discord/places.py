"""Channels as moderators name them: ``here``, a mention (``<#id>``) or an id, checked before stored."""

from __future__ import annotations

import re

import discord

from core.errors import UsageError

HERE = "here"
_MENTION = re.compile(r"^<#(\d+)>$")


class DiscordPlaces:
    """Resolves a channel a moderator names and refuses one the bot cannot post in."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def check(self, place: str, current: str) -> str:
        """The id of a text channel that exists and where the bot may send messages."""
        text = place.strip()
        if text.lower() == HERE:
            text = current
        mention = _MENTION.match(text)
        digits = mention.group(1) if mention else text.lstrip("#")
        if not digits.isdigit():
            raise UsageError(f"'{place}' is not a channel: give `here`, a channel mention or a channel id")
        channel = self._client.get_channel(int(digits))
        if channel is None:
            raise UsageError(f"there is no channel {place} the bot can see")
        if not isinstance(channel, discord.TextChannel):
            raise UsageError(f"{place} is not a text channel")
        me = channel.guild.me
        if me is not None and not channel.permissions_for(me).send_messages:
            raise UsageError(f"the bot may not post in #{channel.name}")
        return str(channel.id)

    async def name(self, place: str) -> str:
        """``#name``, else the id."""
        channel = self._client.get_channel(int(place)) if place.isdigit() else None
        return f"#{channel.name}" if isinstance(channel, discord.TextChannel) else place
