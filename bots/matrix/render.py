"""Replies as Matrix messages: plain body plus well-formed escaped HTML, never a ping, never too big.

Synapse refuses events over 65,536 bytes of canonical JSON. Every message here is built
block by block (paragraphs, lists, cards), each block measured in bytes as it will be
encoded, so the content stays under ``CONTENT_BYTES`` whatever the script. Member text is
cut before it is escaped, so no entity or tag is ever split. A reply that does not fit one
event, or that has more than one votable card (a reaction votes on one event's card),
becomes a ``Plan``: a short headline and thread messages sent with ``m.thread`` relations.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from bots.layout import CardItem, Outline, chunk_lines, cut, first_page, outline, pieces
from core.cards import card_fields
from core.commands.declaration import ButtonAction, Reply
from core.model import Track
from core.replies import Dialect, localize, mentions_in

ZERO_WIDTH = "\u200b"
EVENT_BYTES = 65_536  # Synapse's limit for a whole event (PDU) as canonical JSON
CONTENT_BYTES = 58_000  # body + formatted_body; the rest of the event (relations, envelope) fits the margin
HEADLINE_BYTES = 4_000
CARD_TITLE, CARD_VALUE = 300, 1000  # a card stays a card: long member text is cut in it
SEPARATOR, NEWLINE = 4, 2  # "\n\n" and "\n" as escaped in JSON
MAX_BODY = CONTENT_BYTES  # kept for callers of the old name
VOTES_FIELD = "org.wavepool.votes"  # a card's vote values (``VoteChoice.encode``), read back from the event


def defuse(text: str) -> str:
    """Member text with room-wide mentions made inert."""
    return text.replace("@room", f"@{ZERO_WIDTH}room").replace("@everyone", f"@{ZERO_WIDTH}everyone")


# control characters (other than tab and newline) and non-characters have no place in markup
_UNMARKABLE = {c: None for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0xFFFE, 0xFFFF]}


def esc(text: str) -> str:
    """Escaped and defused, for HTML (well formed even as XML)."""
    return html.escape(defuse(text).translate(_UNMARKABLE), quote=True)


def json_bytes(text: str) -> int:
    """Bytes ``text`` takes inside a JSON string as Synapse encodes it."""
    return len(json.dumps(text, ensure_ascii=False).encode()) - 2


def canonical_size(content: dict[str, Any]) -> int:
    """Bytes of ``content`` as canonical JSON."""
    return len(json.dumps(content, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode())


def _text_cost(text: str) -> int:
    """Bytes a piece of member text costs in body plus formatted body."""
    return json_bytes(defuse(text)) + json_bytes(esc(text).replace("\n", "<br/>"))


def _paragraph(text: str, bold: bool = False) -> tuple[str, str]:
    inner = esc(text).replace("\n", "<br/>")
    return defuse(text), f"<p><b>{inner}</b></p>" if bold else f"<p>{inner}</p>"


def _card(track: Track, heading: str | None = None) -> tuple[str, str]:
    """A card as (plain, HTML), member text cut to card size first."""
    title = cut(track.title, CARD_TITLE)
    values = [(name, cut(value, CARD_VALUE)) for name, value in card_fields(track)]
    rows = "".join(f"<li><b>{esc(name)}</b>: {esc(value).replace(chr(10), '<br/>')}</li>" for name, value in values)
    # a value of several lines (evidence) keeps its indent under the value's first line
    text = "\n".join(f"  {name}: {value}".replace("\n", "\n" + " " * (len(name) + 4)) for name, value in values)
    head_text = f"{heading}\n" if heading else ""
    head_html = f"<h4>{esc(heading)}</h4>" if heading else ""
    return defuse(f"{head_text}🎵 {title}\n{text}"), f"{head_html}<p>🎵 <b>{esc(title)}</b></p><ul>{rows}</ul>"


def vote_hint(reply: Reply, approval_key: str, score_keys: tuple[str, ...]) -> str:
    """How to vote on this message by reaction, if it carries vote buttons."""
    return hint_for([b.value for b in reply.buttons if b.action is ButtonAction.VOTE], approval_key, score_keys)


def hint_for(votes: Sequence[str], approval_key: str, score_keys: tuple[str, ...]) -> str:
    """How to vote by reaction on a message carrying these vote values."""
    if not votes:
        return ""
    if len(votes) > 1:
        return f"React with {' '.join(score_keys)} to score (remove your reaction to withdraw)."
    return f"React with {approval_key} to vote (remove your reaction to withdraw)."


@dataclass
class Built:
    """One message's blocks, measured as they are added."""

    text: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    used: int = 0
    votes: tuple[str, ...] = ()

    def cost(self, text: str, markup: str) -> int:
        """Bytes adding a block costs (with the separator between plain blocks)."""
        return json_bytes(text) + json_bytes(markup) + (SEPARATOR if self.text else 0)

    def add(self, text: str, markup: str) -> None:
        """Append a block (the caller checked it fits)."""
        self.used += self.cost(text, markup)
        self.text.append(text)
        self.html.append(markup)

    def content(self) -> dict[str, Any]:
        """The ``m.room.message`` content (no relation)."""
        return {
            "msgtype": "m.notice",
            "body": "\n\n".join(self.text) or "…",
            "format": "org.matrix.custom.html",
            "formatted_body": "".join(self.html) or "<p>…</p>",
            "m.mentions": {},
        }  # intentional mentions: this message mentions nobody


@dataclass
class Message:
    """A message of a plan: its content and the vote values a reaction on it maps to.

    A votable message also carries its vote values in ``VOTES_FIELD``: the card itself says
    what a reaction on it votes for, so a reaction counts even when the bot's own record of
    the card is missing (it stopped between the homeserver accepting the card and the record)."""

    content: dict[str, Any]
    votes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.votes:
            self.content[VOTES_FIELD] = list(self.votes)


@dataclass
class Plan:
    """A headline message and the messages of its thread."""

    headline: Message
    thread: list[Message]

    @property
    def messages(self) -> list[Message]:
        """The headline, then the thread messages."""
        return [self.headline, *self.thread]


class _Packer:
    """Blocks into messages, a new message when the next block does not fit."""

    def __init__(self, budget: int = CONTENT_BYTES) -> None:
        self.budget = budget
        self.done: list[Built] = []
        self.current = Built()

    def flush(self) -> None:
        if self.current.text:
            self.done.append(self.current)
        self.current = Built()

    def block(self, text: str, markup: str) -> None:
        if self.current.text and self.current.used + self.current.cost(text, markup) > self.budget:
            self.flush()
        self.current.add(text, markup)

    def paragraphs(self, lines: Sequence[str]) -> None:
        limit = (self.budget - 64) // 2
        for page in chunk_lines(list(lines), limit // 7, len):  # html escaping grows text up to 6x
            text = "\n".join(page)
            for part in pieces(text, limit, _text_cost):
                self.block(*_paragraph(part))

    def rows(self, rows: Sequence[tuple[str, str]]) -> None:
        """Rows as lists, as many per message as fit; one list never spans two messages."""
        items = [
            (
                f"{defuse(cut(n, CARD_VALUE))}: {defuse(cut(v, CARD_VALUE))}",
                f"<li><b>{esc(cut(n, CARD_VALUE))}</b>: {esc(cut(v, CARD_VALUE)).replace(chr(10), '<br/>')}</li>",
            )
            for n, v in rows
        ]
        costs = [json_bytes(t) + json_bytes(h) for t, h in items]
        start = 0
        while start < len(items):
            # exact: JSON escapes character by character, so the cost of a join is the sum of the parts'
            used = self.current.used + (SEPARATOR if self.current.text else 0) + json_bytes("<ul></ul>")
            end = start
            while end < len(items) and used + costs[end] + (NEWLINE if end > start else 0) <= self.budget:
                used += costs[end] + (NEWLINE if end > start else 0)
                end += 1
            if end == start:
                if self.current.text:
                    self.flush()
                    continue
                end = start + 1  # one row cut to card size always fits an empty message
            taken = items[start:end]
            self.current.add("\n".join(t for t, _ in taken), "<ul>" + "".join(h for _, h in taken) + "</ul>")
            start = end

    def messages(self) -> list[Built]:
        self.flush()
        return self.done


def _hint_block(votes: Sequence[str], keys: tuple[str, tuple[str, ...]]) -> tuple[str, str]:
    hint = hint_for(votes, *keys)
    return hint, f"<p><i>{html.escape(hint)}</i></p>"


def _single(reply: Reply, parts: Outline, keys: tuple[str, tuple[str, ...]]) -> Built | None:
    items = [item for group in parts.groups for item in group.cards]
    if sum(1 for item in items if item.votable) > 1:
        return None
    built = Built()
    if reply.title:
        built.add(*_paragraph(reply.title, bold=True))
    if reply.text:
        built.add(*_paragraph(reply.text))
    if reply.fields:
        built.add(
            "\n".join(f"{defuse(n)}: {defuse(v)}" for n, v in reply.fields),
            "<ul>" + "".join(f"<li><b>{esc(n)}</b>: {esc(v)}</li>" for n, v in reply.fields) + "</ul>",
        )
    for item in items:
        built.add(*_card(item.track))
    votes = tuple(b.value for b in reply.buttons if b.action is ButtonAction.VOTE)
    if votes:
        built.add(*_hint_block(votes, keys))
    built.votes = votes
    return built if built.used <= CONTENT_BYTES else None


def _with_mentions(content: dict[str, Any], pills: list[tuple[str, str]]) -> dict[str, Any]:
    """The members the text names (``core.replies.mention``) as pills and intentional mentions."""
    named = []
    for user_id, name in pills:
        shown = esc(name)
        html = content.get("formatted_body", "")
        if shown and shown in html and user_id.startswith("@"):
            link = f'<a href="https://matrix.to/#/{esc(quote(user_id, safe="@:"))}">{shown}</a>'
            content["formatted_body"] = html.replace(shown, link, 1)
            named.append(user_id)
    if named:
        content["m.mentions"] = {"user_ids": named}
    return content


def _with_reply(content: dict[str, Any], reply_to: str | None) -> dict[str, Any]:
    if reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return content


def plan(
    reply: Reply,
    approval_key: str = "👍",
    score_keys: tuple[str, ...] = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣"),
    reply_to: str | None = None,
    more_at: str | None = None,
    prefix: str = "!wp",
) -> Plan:
    """A reply as one event when it fits, else a headline plus thread messages; nothing dropped.
    Times read "in 4 min (09:58:35 UTC)" and command hints carry the room command ``prefix``."""
    pills = [(uid, name) for platform, uid, name in mentions_in(reply.text) if platform == "matrix"]
    reply = localize(reply, Dialect(prefix + " "))
    keys = (approval_key, score_keys)
    parts = outline(reply)
    single = _single(reply, parts, keys)
    if single is not None:
        return Plan(Message(_with_mentions(_with_reply(single.content(), reply_to), pills), single.votes), [])
    headline = Built()
    if parts.title:
        headline.add(*_paragraph(cut(parts.title, CARD_TITLE * 3), bold=True))
    first, rest = first_page(parts.lines, HEADLINE_BYTES, _text_cost)
    if first:
        headline.add(*_paragraph("\n".join(first)))
    notes = []
    if rest:
        notes.append(f"{len(rest)} more line{'s' if len(rest) != 1 else ''}")
    if parts.fields:
        notes.append(f"{len(parts.fields)} row{'s' if len(parts.fields) != 1 else ''}")
    if parts.card_count:
        notes.append(f"{parts.card_count} track card{'s' if parts.card_count != 1 else ''}")
    note = ("In the thread: " + ", ".join(notes) + "." if notes else "") + (f" Also at {more_at}" if more_at else "")
    if note.strip():
        headline.add(note.strip(), f"<p><i>{esc(note.strip())}</i></p>")
    loose = tuple(b.value for b in parts.loose_buttons if b.action is ButtonAction.VOTE)
    if loose:
        headline.add(*_hint_block(loose, keys))
    packer = _Packer()
    if rest:
        packer.paragraphs(rest)
    if parts.fields:
        packer.flush()
        packer.rows(parts.fields)
    thread = [Message(b.content()) for b in packer.messages()]
    for group in parts.groups:
        thread += _card_messages(group.heading, group.cards, keys)
    return Plan(Message(_with_mentions(_with_reply(headline.content(), reply_to), pills), loose), thread)


def _card_messages(
    heading: str | None, items: tuple[CardItem, ...], keys: tuple[str, tuple[str, ...]]
) -> list[Message]:
    """Votable cards one per message (a reaction names one card); the others packed together."""
    out: list[Message] = []
    packer = _Packer()
    for index, item in enumerate(items):
        head = heading if index == 0 else None
        if item.votable:
            built = Built()
            built.add(*_card(item.track, head))
            votes = tuple(b.value for b in item.buttons if b.action is ButtonAction.VOTE)
            built.add(*_hint_block(votes, keys))
            out.append(Message(built.content(), votes))
        else:
            packer.block(*_card(item.track, head))
    out += [Message(b.content()) for b in packer.messages()]
    return out


def message(reply: Reply, hint: str = "", reply_to: str | None = None) -> dict[str, Any]:
    """The ``m.room.message`` content of a reply's first message (the whole reply when it fits)."""
    return plan(reply, reply_to=reply_to).headline.content


def thread_relation(root: str, previous: str) -> dict[str, Any]:
    """The ``m.relates_to`` of a thread message (with the reply fallback for clients without threads)."""
    return {"rel_type": "m.thread", "event_id": root, "is_falling_back": True, "m.in_reply_to": {"event_id": previous}}


def transaction_id(key: str, index: int) -> str:
    """The transaction id of a delivery key's ``index``-th message: a retry reuses it."""
    return f"wp{hashlib.sha256(key.encode()).hexdigest()[:32]}.{index}"
