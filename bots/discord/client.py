"""The Discord client: slash commands, watched channels, announcements, persistent buttons.

Every interaction is acknowledged at once (deferred), then answered when the core is done;
errors become ephemeral plain words. Every message is sent with mentions disabled.
Sends are retried with backoff on Discord outages; the core has stored the track or vote
before anything is sent, so a failed send never loses it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
from pathlib import Path, PurePath
from typing import Any

import discord
from discord import app_commands

from bots.discord.app_commands_gen import build_tree, modal_param
from bots.discord.buttons import WavepoolButton
from bots.discord.card_edits import edit_cards
from bots.discord.places import DiscordPlaces
from bots.discord.posting import followup_plan, post_plan, with_retry
from bots.discord.render import NO_MENTIONS, plan
from bots.instance import Instance
from core.commands.captions import caption_fields, first_link
from core.commands.declaration import (
    Attachment,
    Command,
    Invocation,
    ParamKind,
    Permission,
    Post,
    Reply,
)
from core.commands.dispatch import error_reply, execute
from core.commands.parsing import convert_args
from core.errors import TooLargeError, UsageError, WavepoolError
from core.events.dispatcher import PermanentDeliveryError
from core.model import TrackId
from storage.sqlite.posted_cards import PostedCard, SqlitePostedCards

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".mp3", ".flac", ".ogg", ".opus", ".wav", ".m4a", ".aac")
DEFAULT_UPLOAD_LIMIT = 8 * 1024 * 1024


class AskModal(discord.ui.Modal):
    """Asks for a command's free text (``/prompt save`` without text)."""

    def __init__(self, client: WavepoolClient, command: Command, options: dict[str, Any], name: str) -> None:
        super().__init__(title=command.name.capitalize()[:45], timeout=600)
        self._client = client
        self._command = command
        self._options = options
        self._name = name
        self.field: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=name.capitalize()[:45], style=discord.TextStyle.paragraph, max_length=4000, custom_id=name
        )
        self.add_item(self.field)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self._client.run_command(interaction, self._command, {**self._options, self._name: self.field.value})


class WavepoolClient(discord.Client):
    """One Discord bot for one instance."""

    def __init__(self, instance: Instance, **options: Any) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents, allowed_mentions=NO_MENTIONS, **options)
        self.instance = instance
        self.settings = instance.settings.discord
        self.tree = app_commands.CommandTree(self)
        self.synced = False
        self.places = DiscordPlaces(self)

    # -- start-up ----------------------------------------------------------------------

    def _guild(self) -> discord.Object | None:
        return discord.Object(int(self.settings.test_guild_id)) if self.settings.test_guild_id else None

    async def setup_hook(self) -> None:
        """Build the commands, register the dynamic buttons, sync when the commands changed."""
        guild = self._guild()
        build_tree(self.tree, self.instance.registry, self.run_command, self.suggest, guild)
        self.add_dynamic_items(WavepoolButton)
        payload = json.dumps([c.to_dict(self.tree) for c in self.tree.get_commands(guild=guild)], sort_keys=True)
        digest = hashlib.sha256(payload.encode()).hexdigest()
        key = f"commands:{guild.id if guild else 'global'}:{self.application_id}"
        if await self.instance.state.get("discord", key) != digest:
            await self.tree.sync(guild=guild)
            await self.instance.state.put("discord", key, digest)
            self.synced = True
            log.info("slash commands synced (%s)", f"guild {guild.id}" if guild else "global")

    # -- invocations -------------------------------------------------------------------

    def permission(self, user: discord.abc.User) -> Permission:
        """Moderator: Manage Server, administrator, or the configured role."""
        if not isinstance(user, discord.Member):
            return Permission.MEMBER
        perms = user.guild_permissions
        role = self.settings.moderator_role
        if perms.administrator or perms.manage_guild:
            return Permission.MODERATOR
        if role and any(role in (r.name, str(r.id)) for r in user.roles):
            return Permission.MODERATOR
        return Permission.MEMBER

    def invocation(
        self, interaction: discord.Interaction[Any], args: dict[str, Any], attachments: tuple[Attachment, ...] = ()
    ) -> Invocation:
        """The core's view of who runs what where."""
        user = interaction.user
        # Account age: the user's snowflake (when the account was made), not the guild join:
        # a fresh account that joined an old guild is still a fresh account.
        age = (discord.utils.utcnow() - discord.utils.snowflake_time(user.id)).total_seconds() / 86400
        roles = tuple(str(r.id) for r in getattr(user, "roles", ())) + tuple(r.name for r in getattr(user, "roles", ()))
        return Invocation(
            platform="discord",
            user_id=str(user.id),
            display_name=user.display_name,
            place=str(interaction.channel_id),
            permission=self.permission(user),
            args=args,
            attachments=attachments,
            account_age_days=age,
            roles=roles,
            places=self.places,
        )

    async def suggest(self, interaction: discord.Interaction[Any], source: str, current: str) -> list[tuple[str, str]]:
        """Autocomplete choices from the core."""
        return await self.instance.registry.suggest(source, self.invocation(interaction, {}), current)

    async def _download(self, attachment: discord.Attachment) -> Attachment:
        limit = self.instance.app.ingest.limits.max_bytes
        if attachment.size > limit:
            raise TooLargeError(
                f"the file is {attachment.size / 1e6:.1f} MB; this community accepts up to {limit / 1e6:.0f} MB"
            )
        work = self.instance.data_dir / "downloads"
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=work, suffix=".part", delete=False) as handle:
            path = Path(handle.name)
        await attachment.save(path)
        name = PurePath(attachment.filename).name[:200] or "upload"
        return Attachment(name, path, path.stat().st_size, attachment.content_type, attachment.url)

    async def run_command(
        self, interaction: discord.Interaction[Any], command: Command, options: dict[str, Any]
    ) -> None:
        """Defer, run the core command, answer (ephemeral when private or an error)."""
        asked = modal_param(command)
        if asked is not None and not options.get(asked.name):
            await interaction.response.send_modal(AskModal(self, command, options, asked.name))
            return
        if not interaction.response.is_done():
            # Ephemeral: errors and private answers must stay private, and the first follow-up
            # after a deferral takes over the deferred message, visibility included.
            await interaction.response.defer(ephemeral=True, thinking=True)
        attachments: list[Attachment] = []
        try:
            raw: dict[str, Any] = {}
            for param in command.params:
                value = options.get(param.name)
                if param.kind is ParamKind.ATTACHMENT and isinstance(value, discord.Attachment):
                    attachments.append(await self._download(value))
                elif param.kind is ParamKind.USER and isinstance(value, discord.abc.User):
                    raw[param.name] = str(value.id)
                elif value is not None:
                    raw[param.name] = value
            args = convert_args(command, raw)
            reply = await execute(command, self.invocation(interaction, args, tuple(attachments)))
        except WavepoolError as error:
            reply = error_reply(error)
        finally:
            for attachment in attachments:
                attachment.path.unlink(missing_ok=True)
        await self.answer(interaction, reply)

    async def answer(self, interaction: discord.Interaction[Any], reply: Reply) -> None:
        """Follow up on the (ephemeral) deferral; public answers go to the channel as a message."""
        laid_out = plan(reply)
        channel = interaction.channel
        if reply.private or channel is None or not hasattr(channel, "send"):
            await followup_plan(interaction, laid_out)
        else:
            files = await self._files(reply, getattr(interaction, "attachment_size_limit", None))
            ids = await post_plan(self, channel.id, laid_out, files=files)
            jump = channel.get_partial_message(ids[0]).jump_url  # type: ignore[union-attr]
            await with_retry(
                lambda: interaction.followup.send(f"Done: {jump}", ephemeral=True, allowed_mentions=NO_MENTIONS),
                "followup",
            )

    async def _files(self, reply: Reply, limit: int | None) -> list[discord.File]:
        """The card's audio when it fits the upload limit."""
        if not reply.cards or "track" not in reply.data:
            return []
        track = reply.cards[0]
        path = await self.instance.app.pool.local_path(track.cid)
        if path is None or track.size > (limit or DEFAULT_UPLOAD_LIMIT):
            return []
        suffix = {
            "audio/mpeg": ".mp3",
            "audio/flac": ".flac",
            "audio/ogg": ".ogg",
            "audio/wav": ".wav",
            "audio/mp4": ".m4a",
        }.get(track.media_type, "")
        safe = "".join(c for c in track.title if c.isalnum() or c in " -_")[:60].strip() or "track"
        return [discord.File(path, filename=f"{safe}{suffix}")]

    # -- channels ----------------------------------------------------------------------

    async def _watched(self, channel_id: str) -> bool:
        genres = self.instance.app.genres
        if genres is None:
            return channel_id in self.settings.watch_channels
        return channel_id in await genres.watched("discord")

    async def on_message(self, message: discord.Message) -> None:
        """Audio attachments in watched channels are shared; so is the audio or link of a
        message another one replies to while mentioning the bot with ``share``."""
        if message.author.bot:
            return
        if message.reference is not None and self.user is not None and self.user in message.mentions:
            await self._share_replied(message)
            return
        if not await self._watched(str(message.channel.id)):
            return
        await self._share_audio(message, message, {})

    async def _share_replied(self, message: discord.Message) -> None:
        """A reply that says ``@bot share [caption]``: share what the replied-to message carries."""
        words = re.sub(r"<@!?\d+>", " ", message.content).split(None, 1)
        if not words or words[0].lower().lstrip("/!") != "share":
            return
        reference = message.reference
        assert reference is not None
        original = reference.resolved if isinstance(reference.resolved, discord.Message) else None
        if original is None and reference.message_id is not None:
            try:
                original = await message.channel.fetch_message(reference.message_id)
            except discord.HTTPException:
                original = None
        if original is None:
            await post_plan(
                self, message.channel.id, plan(error_reply(UsageError("I cannot read that message"))), reference=message
            )
            return
        extra = {**caption_fields(original.content), **caption_fields(words[1] if len(words) > 1 else "")}
        if await self._share_audio(original, message, extra):
            return
        link = first_link(original.content)
        share = self.instance.registry.get("share")
        if link is None or share is None:
            await post_plan(
                self,
                message.channel.id,
                plan(error_reply(UsageError("reply to a message with an audio file or a link to share it"))),
                reference=message,
            )
            return
        invocation = self._message_invocation(message, {**extra, "url": link}, ())
        try:
            reply = await execute(share, invocation)
        except WavepoolError as error:
            reply = error_reply(error)
        files = (
            [] if reply.failed else await self._files(reply, message.guild.filesize_limit if message.guild else None)
        )
        await post_plan(self, message.channel.id, plan(reply, link=message.jump_url), reference=message, files=files)

    def _message_invocation(
        self, message: discord.Message, args: dict[str, Any], attachments: tuple[Attachment, ...]
    ) -> Invocation:
        author = message.author
        return Invocation(
            platform="discord",
            user_id=str(author.id),
            display_name=author.display_name,
            place=str(message.channel.id),
            permission=self.permission(author),
            args=args,
            attachments=attachments,
            message_ref=message.jump_url,
            places=self.places,
        )

    async def _share_audio(self, source: discord.Message, asked: discord.Message, extra: dict[str, Any]) -> bool:
        """Share ``source``'s audio attachments for the author of ``asked``; False when it has none."""
        message = asked
        audio = [
            a
            for a in source.attachments
            if (a.content_type or "").startswith("audio/") or a.filename.lower().endswith(AUDIO_SUFFIXES)
        ]
        share = self.instance.registry.get("share")
        if not audio or share is None:
            return False
        for attachment in audio[:5]:
            downloaded: Attachment | None = None
            try:
                downloaded = await self._download(attachment)
                reply = await execute(share, self._message_invocation(message, dict(extra), (downloaded,)))
            except WavepoolError as error:
                reply = error_reply(error)
            finally:
                if downloaded is not None:
                    downloaded.path.unlink(missing_ok=True)
            files = (
                []
                if reply.failed
                else await self._files(reply, message.guild.filesize_limit if message.guild else None)
            )
            await post_plan(
                self, message.channel.id, plan(reply, link=message.jump_url), reference=message, files=files
            )
        return True

    async def announce(self, post: Post, key: str | None = None) -> None:
        """Send a post to the channel its target maps to.

        ``key`` is the message nonce: discord.py sends it with ``enforce_nonce``, so a
        delivery repeated after a crash returns the message already posted."""
        place = await self.instance.app.place_of(post, "discord")
        if place is None:
            return
        try:
            channel = self.get_channel(int(place)) if place.isdigit() else None
            limit = channel.guild.filesize_limit if isinstance(channel, discord.TextChannel) else None
            files = await self._files(post.reply, limit)  # a card's audio: playable where it is posted
            ids = await post_plan(self, place, plan(post.reply), key=key, files=files)
        except discord.NotFound as error:
            raise PermanentDeliveryError(f"channel {place} for {post.target} does not exist") from error
        except discord.Forbidden as error:
            raise PermanentDeliveryError(f"channel {place} for {post.target} refused the post: {error}") from error
        if ids and post.reply.cards and "track" in post.reply.data:  # issue 12: edited when the verdict upgrades
            track_id = TrackId(str(post.reply.data["track"]))
            await SqlitePostedCards(self.instance.db).record(
                PostedCard("discord", place, str(ids[0]), track_id, post.reply.text)
            )

    async def update_cards(self, track_id: TrackId) -> int:
        """Edit every card of a track posted here to show it as it is now (issue 12)."""
        track = await self.instance.app.tracks.get(track_id)
        if track is None:
            return 0
        return await edit_cards(
            self, list(await SqlitePostedCards(self.instance.db).of_track(track_id, "discord")), track
        )
