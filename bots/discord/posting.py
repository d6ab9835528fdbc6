"""Sending a rendered plan to Discord: the headline in the channel, the rest in a thread started from it.

Delivery is idempotent when a delivery key is given: every message carries a nonce derived
from the key and its position, and Discord (``enforce_nonce``) answers a repeated send
with the message it already created, so a retried delivery neither duplicates the
headline nor any thread message. Outages (5xx, connection errors) are retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar

import discord

from bots.discord.render import Plan, Rendered, nonce

log = logging.getLogger(__name__)

SEND_ATTEMPTS = 4
THREAD_EXISTS = 160004  # "A thread has already been created for this message"
ARCHIVE_MINUTES: Literal[10080] = 10080  # a week: the digest's thread stays open until the next digest
T = TypeVar("T")


async def with_retry(action: Callable[[], Awaitable[T]], what: str, first_delay: float = 1.0) -> T:
    """Run a send; Discord outages (5xx, connection errors) are retried with backoff."""
    delay = first_delay
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            return await action()
        except discord.HTTPException as error:
            if error.status < 500 or attempt == SEND_ATTEMPTS:
                raise
        except (TimeoutError, OSError):
            if attempt == SEND_ATTEMPTS:
                raise
        log.warning("%s failed (attempt %d); retrying in %.0f s", what, attempt, delay)
        await asyncio.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")


async def resolve_channel(client: discord.Client, destination: int | str) -> Any:
    """The channel (or thread) with this id, from the cache or the API."""
    channel = client.get_channel(int(destination))
    if channel is None:
        channel = await with_retry(lambda: client.fetch_channel(int(destination)), f"fetch channel {destination}")
    return channel


def _kwargs(message: Rendered, key: str | None, index: int, files: Sequence[discord.File] = ()) -> dict[str, Any]:
    out = message.kwargs()
    if key is not None:
        out["nonce"] = nonce(key, index)
    if files:
        out["files"] = list(files)
    return out


async def _thread(client: discord.Client, head: discord.Message, name: str) -> Any:
    """A thread started from ``head``, or the one already started from it (a retried delivery)."""
    if not isinstance(head.channel, (discord.TextChannel, discord.ForumChannel)) or head.guild is None:
        return head.channel  # DMs and threads cannot hold threads: the rest follows in place
    try:
        return await with_retry(
            lambda: head.create_thread(name=name, auto_archive_duration=ARCHIVE_MINUTES), "start thread"
        )
    except discord.Forbidden as error:
        # without the Create Public Threads permission the rest still goes out, in the channel
        log.warning("cannot start a thread in %s (%s); posting the rest in the channel", head.channel.id, error)
        return head.channel
    except discord.HTTPException as error:
        if error.code != THREAD_EXISTS:
            raise
        return await resolve_channel(client, head.id)  # a thread started from a message has its id


async def post_plan(
    client: discord.Client,
    destination: int | str,
    plan: Plan,
    key: str | None = None,
    reference: discord.Message | None = None,
    files: Sequence[discord.File] = (),
) -> list[int]:
    """Send ``plan`` to a channel (as a reply to ``reference`` if given); the ids of the messages sent."""
    channel = reference.channel if reference is not None else await resolve_channel(client, destination)
    first = _kwargs(plan.headline, key, 0, files)
    if reference is not None:
        head = await with_retry(lambda: reference.reply(mention_author=False, **first), "reply")
    else:
        head = await with_retry(lambda: channel.send(**first), f"post to {destination}")
    ids = [head.id]
    if not plan.thread:
        return ids
    thread = await _thread(client, head, plan.thread_name)
    for index, message in enumerate(plan.thread, start=1):
        kwargs = _kwargs(message, key, index)
        sent = await with_retry(lambda kwargs=kwargs: thread.send(**kwargs), f"thread message {index}")  # type: ignore[misc]
        ids.append(sent.id)
    return ids


async def followup_plan(interaction: discord.Interaction[Any], plan: Plan, ephemeral: bool = True) -> list[int]:
    """Send every message of ``plan`` as interaction follow-ups (no thread: they may be ephemeral)."""
    ids = []
    for message in plan.messages:
        sent = await with_retry(
            lambda message=message: interaction.followup.send(  # type: ignore[misc]
                ephemeral=ephemeral, wait=True, **message.kwargs()
            ),
            "followup",
        )
        ids.append(sent.id)
    return ids
