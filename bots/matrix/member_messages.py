"""Reading members' messages: a reply's own text, the event it replies to, an audio or link
message's caption."""

from __future__ import annotations

from typing import Any

import nio

from core.commands.captions import caption_fields

AUDIO_TYPES = ("audio/",)
AUDIO_SUFFIXES = (".mp3", ".flac", ".ogg", ".wav", ".m4a", ".opus")


def own_text(body: str) -> str:
    """A reply's own text: older clients quote the message replied to as leading ``> `` lines."""
    lines = body.splitlines()
    if not lines or not lines[0].startswith("> "):
        return body
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    return "\n".join(lines).strip()


def replied_to(event: Any) -> str | None:
    """The event id a message replies to (``m.relates_to.m.in_reply_to``), or None."""
    relates = (event.source.get("content") or {}).get("m.relates_to") or {}
    target = (relates.get("m.in_reply_to") or {}).get("event_id")
    return str(target) if target else None


def caption_of(event: Any) -> dict[str, str]:
    """Title, genre, prompt an audio or link message's caption gives (a body that is not just
    the file's name is a caption)."""
    content = event.source.get("content") or {}
    body = str(content.get("body") or "")
    filename = content.get("filename")
    is_file = isinstance(event, (nio.RoomMessageAudio, nio.RoomMessageFile))
    if is_file and (not filename or filename == body or body.lower().endswith(AUDIO_SUFFIXES)):
        return {}
    return caption_fields(body)
