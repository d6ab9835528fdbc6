"""The parent's sharer is told of a remix by a platform mention on their own platform, by name elsewhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.discord import render as discord_render
from bots.matrix import render as matrix_render
from core.curation_ports import Relation
from core.events.model import DomainEvent, EventKind
from core.model import Sharer
from core.replies import Reply
from core.views.curation import remix_posts
from tests.support.curation import World, world
from tests.support.factories import member


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async with world("memory", tmp_path) as built:
        yield built


async def _told(w: World, sharer: Sharer) -> Reply:
    parent = await w.share(sharer, "Original", "lofi")
    child = await w.share(member("carol"), "Original (carol remix)", "lofi")
    await w.curation.lineage.link(child, parent.cid, Relation.REMIX)
    posts = await remix_posts(DomainEvent(EventKind.TRACK_REMIXED, track_id=child.id), w.tracks, w.curation.lineage)
    assert len(posts) == 1
    return posts[0].reply


async def test_a_discord_sharer_is_pinged_on_discord_and_named_on_matrix(w: World) -> None:
    alice = member("alice", "discord")
    reply = await _told(w, alice)
    sent = discord_render.plan(reply).headline
    assert sent.content is not None and sent.content.startswith(f"🔁 <@{alice.user_id}>, your track Original")
    allowed = sent.kwargs()["allowed_mentions"]
    assert [u.id for u in allowed.users] == [int(alice.user_id)]
    assert allowed.everyone is False and allowed.roles is False
    on_matrix = matrix_render.plan(reply).headline.content
    assert "🔁 Alice, your track Original" in on_matrix["body"] and "<@" not in on_matrix["body"]
    assert on_matrix["m.mentions"] == {} and "matrix.to" not in on_matrix["formatted_body"]


async def test_a_matrix_sharer_gets_a_pill_on_matrix_and_is_named_on_discord(w: World) -> None:
    alice = member("alice", "matrix")
    reply = await _told(w, alice)
    content = matrix_render.plan(reply).headline.content
    assert content["m.mentions"] == {"user_ids": [alice.user_id]}
    assert f'<a href="https://matrix.to/#/{alice.user_id}">Alice</a>, your track Original' in content["formatted_body"]
    assert "🔁 Alice, your track Original" in content["body"]
    sent = discord_render.plan(reply).headline
    assert sent.content is not None and sent.content.startswith("🔁 Alice, your track") and "<@" not in sent.content
    assert sent.kwargs()["allowed_mentions"] is discord_render.NO_MENTIONS
