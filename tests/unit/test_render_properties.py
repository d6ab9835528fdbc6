"""Every rendered post fits its platform, whatever members write and however big the community.

Discord payloads are serialised by discord.py itself and checked with the same rules the
Discord fake enforces; Matrix contents are measured as canonical JSON with the thread
relation they are sent with, and their HTML parsed as XML (stricter than HTML).
"""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from typing import Any

import discord
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bots.discord import render as discord_render
from bots.discord.posting import ARCHIVE_MINUTES
from bots.layout import cut, pieces, utf16_len
from bots.matrix import render as matrix_render
from core.cards import card_fields
from core.commands.declaration import ButtonAction, Reply
from tests.support.discord_limits import check_message, check_thread, is_empty
from tests.support.replies import (
    Community,
    communities,
    digest_reply,
    entry_reply,
    member_text,
    results_reply,
)

PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)  # "explain" is slow on big inputs
EXAMPLES = settings(
    max_examples=15,
    deadline=None,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FAKE_EVENT = "$" + "A" * 43  # an event id as long as Synapse's
ENVELOPE = 3000  # sender, room, auth/prev events, hashes, signatures of a PDU: well under this
ALLOWED_TAGS = {"div", "p", "b", "i", "ul", "li", "br", "h4"}


# -- Discord -------------------------------------------------------------------------------


def discord_payloads(plan: discord_render.Plan, key: str = "delivery-key") -> list[dict[str, Any]]:
    """The JSON bodies discord.py sends for a plan's messages."""

    async def serialise() -> list[dict[str, Any]]:
        out = []
        for index, message in enumerate(plan.messages):
            kwargs = message.kwargs()
            params = discord.http.handle_message_parameters(
                content=kwargs.get("content"),
                embeds=kwargs["embeds"],
                view=kwargs.get("view"),
                allowed_mentions=kwargs["allowed_mentions"],
                nonce=discord_render.nonce(key, index),
            )
            out.append(params.payload)
        return out

    return asyncio.run(serialise())


def assert_discord_accepts(plan: discord_render.Plan) -> list[dict[str, Any]]:
    payloads = discord_payloads(plan)
    for index, payload in enumerate(payloads):
        assert check_message(payload) is None, (index, check_message(payload))
        assert not is_empty(payload, False), index
        assert payload["allowed_mentions"]["parse"] == [], payload["allowed_mentions"]
    if plan.thread:
        assert check_thread({"name": plan.thread_name, "auto_archive_duration": ARCHIVE_MINUTES}) is None
    return payloads


def _custom_ids(payloads: list[dict[str, Any]]) -> list[str]:
    return [c["custom_id"] for p in payloads for row in p.get("components") or [] for c in row["components"]]


def _card_embeds(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e
        for p in payloads
        for e in p.get("embeds") or []
        if any(f["name"] == "Pool address" for f in e.get("fields") or [])
    ]


def _rows(payloads: list[dict[str, Any]], reply: Reply) -> list[str]:
    """Names of the listed rows as sent (card fields excluded)."""
    return [
        f["name"]
        for p in payloads
        for e in p.get("embeds") or []
        if not any(f["name"] == "Pool address" for f in e.get("fields") or [])
        for f in e.get("fields") or []
    ]


def assert_nothing_lost_on_discord(reply: Reply, payloads: list[dict[str, Any]]) -> None:
    cards = _card_embeds(payloads)
    assert sorted(next(f["value"] for f in e["fields"] if f["name"] == "Pool address") for e in cards) == sorted(
        t.cid for t in reply.cards
    )
    assert sorted(_custom_ids(payloads)) == sorted({b.custom_id for b in reply.buttons})
    rows = _rows(payloads, reply)
    assert len(rows) == len(reply.fields)
    for sent, (name, _) in zip(rows, reply.fields, strict=True):
        assert name.strip().startswith(sent.rstrip("…").strip()[:20])


@EXAMPLES
@given(communities(), member_text(), st.sampled_from([10, None]))
def test_every_discord_digest_is_accepted_and_lists_every_track(
    community: Community, theme: str, listed: int | None
) -> None:
    reply = digest_reply(community.tracks, theme, listed)
    payloads = assert_discord_accepts(discord_render.plan(reply))
    assert_nothing_lost_on_discord(reply, payloads)


@EXAMPLES
@given(communities(most=60), member_text())
def test_every_discord_round_result_and_entry_is_accepted_with_every_standing(community: Community, theme: str) -> None:
    reply = results_reply(community.tracks, theme)
    payloads = assert_discord_accepts(discord_render.plan(reply))
    assert_nothing_lost_on_discord(reply, payloads)
    entry = entry_reply(community.tracks[0], 1)
    entry_plan = discord_render.plan(entry)
    assert not entry_plan.thread
    assert_nothing_lost_on_discord(entry, assert_discord_accepts(entry_plan))


@EXAMPLES
@given(member_text(max_repeat=400, allow_empty=True), st.one_of(st.none(), member_text(max_repeat=30)))
def test_discord_text_replies_of_any_length_are_split_not_refused(text: str, title: str | None) -> None:
    reply = Reply(text=text, title=title)
    plan = discord_render.plan(reply)
    payloads = assert_discord_accepts(plan)
    sent = "".join(
        (p.get("content") or "") + "".join(e.get("description") or "" for e in p.get("embeds") or []) for p in payloads
    )
    # every word of the text arrives (long titles may be cut, text never is)
    assert (
        re.sub(r"\s", "", text.replace("…", "")) in re.sub(r"\s", "", sent.replace("…", ""))
        or utf16_len(text) <= discord_render.CONTENT
    )


def test_a_digest_of_120_long_cjk_titles_stays_under_6000_per_message() -> None:
    """The case of the issue: 12 genres x 10 tracks of 300-character titles totalled 6,001."""
    from tests.support.factories import make_track, member

    genres = [f"genre{g}" for g in range(12)]
    tracks = tuple(make_track(member(f"m{i}", "discord"), title="夜" * 300, genre=genres[i % 12]) for i in range(120))
    reply = digest_reply(tracks)
    payloads = assert_discord_accepts(discord_render.plan(reply))
    assert_nothing_lost_on_discord(reply, payloads)
    assert (
        max(
            sum(
                len(e.get("title") or "")
                + len(e.get("description") or "")
                + sum(len(f["name"]) + len(f["value"]) for f in e.get("fields") or [])
                for e in p["embeds"]
            )
            for p in payloads
        )
        <= 6000
    )


# -- Matrix --------------------------------------------------------------------------------


def assert_matrix_fits(plan: matrix_render.Plan) -> None:
    for index, message in enumerate(plan.messages):
        content = dict(message.content)
        if index:
            content["m.relates_to"] = matrix_render.thread_relation(FAKE_EVENT, FAKE_EVENT)
        assert matrix_render.canonical_size(content) + ENVELOPE <= matrix_render.EVENT_BYTES, index
        root = ET.fromstring(f"<div>{content['formatted_body']}</div>")  # well formed, entities included
        assert {element.tag for element in root.iter()} <= ALLOWED_TAGS
        for text in (content["body"], content["formatted_body"]):
            assert "@room" not in text and "@everyone" not in text
        assert content["m.mentions"] == {}


def assert_nothing_lost_on_matrix(reply: Reply, plan: matrix_render.Plan) -> None:
    html = "".join(m.content["formatted_body"] for m in plan.messages)
    for track in reply.cards:
        assert html.count(track.cid) == 1, track.cid
    rows = sum(m.content["formatted_body"].count("<li>") for m in plan.messages)
    assert rows == len(reply.fields) + sum(len(card_fields(t)) for t in reply.cards)
    votable = {b.value.rsplit(":", 1)[0] for b in reply.buttons if b.action is ButtonAction.VOTE}
    voted = [m.votes for m in plan.messages if m.votes]
    # one event per votable card: a reaction on it names exactly one track or entry
    assert sorted(v[0].rsplit(":", 1)[0] for v in voted) == sorted(votable)
    assert all(len({x.rsplit(":", 1)[0] for x in v}) == 1 for v in voted)


@EXAMPLES
@given(communities(), member_text(), st.sampled_from([10, None]))
def test_every_matrix_digest_fits_an_event_and_lists_every_track(
    community: Community, theme: str, listed: int | None
) -> None:
    reply = digest_reply(community.tracks, theme, listed)
    plan = matrix_render.plan(reply)
    assert_matrix_fits(plan)
    assert_nothing_lost_on_matrix(reply, plan)


@EXAMPLES
@given(communities(most=60), member_text())
def test_every_matrix_round_result_fits_with_every_standing(community: Community, theme: str) -> None:
    reply = results_reply(community.tracks, theme)
    plan = matrix_render.plan(reply)
    assert_matrix_fits(plan)
    assert_nothing_lost_on_matrix(reply, plan)
    entry = entry_reply(community.tracks[0], 1)
    assert_matrix_fits(matrix_render.plan(entry))
    assert_nothing_lost_on_matrix(entry, matrix_render.plan(entry))


@EXAMPLES
@given(member_text(max_repeat=1500, allow_empty=True), st.one_of(st.none(), member_text(max_repeat=300)))
def test_matrix_text_of_any_length_is_split_at_words_and_kept(text: str, title: str | None) -> None:
    plan = matrix_render.plan(Reply(text=text, title=title))
    assert_matrix_fits(plan)
    notes = re.compile(r"\n\nIn the thread: [^\n]*$")
    body = "".join(notes.sub("", m.content["body"]) for m in plan.messages).replace("\u200b", "")
    assert re.sub(r"\s", "", text) in re.sub(r"\s", "", body.replace("…", "")) or text.count("…")


# -- cutting -------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, phases=PHASES)
@given(member_text(max_repeat=20), st.integers(2, 400))
def test_cut_fits_never_splits_a_grapheme_joiner_and_pieces_lose_nothing(text: str, limit: int) -> None:
    clipped = cut(text, limit, utf16_len)
    assert utf16_len(clipped) <= limit
    if clipped != text:
        assert clipped.endswith("…")
        body = clipped[:-1]
        assert not body.endswith("\u200d")
    parts = list(pieces(text, limit, utf16_len))
    assert all(utf16_len(p) <= limit or len(p) == 1 for p in parts)
    assert re.sub(r"\s", "", "".join(parts)) == re.sub(r"\s", "", text)
