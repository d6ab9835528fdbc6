"""Replies as Matrix messages: plain body plus escaped HTML, never a ping."""

from __future__ import annotations

import html
from typing import Any

from core.cards import card_fields
from core.commands.declaration import ButtonAction, Reply
from core.model import Track

ZERO_WIDTH = "\u200b"
MAX_BODY = 30_000  # Matrix events are limited to 64 KiB; leave room for the HTML


def defuse(text: str) -> str:
    """Member text with room-wide mentions made inert."""
    return text.replace("@room", f"@{ZERO_WIDTH}room").replace("@everyone", f"@{ZERO_WIDTH}everyone")


def esc(text: str) -> str:
    """Escaped and defused, for HTML."""
    return html.escape(defuse(text), quote=True)


def _card_html(track: Track) -> str:
    rows = "".join(f"<li><b>{esc(name)}</b>: {esc(value).replace(chr(10), '<br>')}</li>"
                   for name, value in card_fields(track))
    return f"<p>🎵 <b>{esc(track.title)}</b></p><ul>{rows}</ul>"


def _card_text(track: Track) -> str:
    rows = "\n".join(f"  {name}: {value}" for name, value in card_fields(track))
    return f"🎵 {track.title}\n{rows}"


def vote_hint(reply: Reply, approval_key: str, score_keys: tuple[str, ...]) -> str:
    """How to vote on this message by reaction, if it carries vote buttons."""
    votes = [b for b in reply.buttons if b.action is ButtonAction.VOTE]
    if not votes:
        return ""
    if len(votes) > 1:
        return f"React with {' '.join(score_keys)} to score (remove your reaction to withdraw)."
    return f"React with {approval_key} to vote (remove your reaction to withdraw)."


def message(reply: Reply, hint: str = "", reply_to: str | None = None) -> dict[str, Any]:
    """The ``m.room.message`` content of a reply."""
    text_parts: list[str] = []
    html_parts: list[str] = []
    if reply.title:
        text_parts.append(defuse(reply.title))
        html_parts.append(f"<p><b>{esc(reply.title)}</b></p>")
    if reply.text:
        text_parts.append(defuse(reply.text))
        html_parts.append("<p>" + esc(reply.text).replace("\n", "<br>") + "</p>")
    if reply.fields:
        text_parts.append("\n".join(f"{defuse(n)}: {defuse(v)}" for n, v in reply.fields))
        html_parts.append("<ul>" + "".join(f"<li><b>{esc(n)}</b>: {esc(v)}</li>" for n, v in reply.fields) + "</ul>")
    for track in reply.cards:
        text_parts.append(defuse(_card_text(track)))
        html_parts.append(_card_html(track))
    if hint:
        text_parts.append(hint)
        html_parts.append(f"<p><i>{html.escape(hint)}</i></p>")
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "body": "\n\n".join(text_parts)[:MAX_BODY] or "…",
        "format": "org.matrix.custom.html",
        "formatted_body": "".join(html_parts)[:MAX_BODY] or "…",
        "m.mentions": {},  # intentional mentions: this message mentions nobody
    }
    if reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return content
