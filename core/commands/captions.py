"""What a share's caption says: title, genre, prompt, style, generator and a link.

A member who shares by replying to an audio or link message (``!wp share`` as a reply on
Matrix, a reply that mentions the bot on Discord) writes the details as they would in chat:
``title: Neon rain`` lines, a ``#synthwave`` tag, or a short first line as the title.
"""

from __future__ import annotations

import re

FIELDS = ("title", "genre", "prompt", "style", "generator")
_FIELD = re.compile(rf"^\s*({'|'.join(FIELDS)})\s*[:=]\s*(.+?)\s*$", re.IGNORECASE)
_TAG = re.compile(r"(?<![\w/])#([A-Za-z][\w-]{1,40})\b")
_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
MAX_TITLE = 200


def first_link(text: str) -> str | None:
    """The first http(s) link in a message, or None."""
    found = _URL.search(text or "")
    return found.group(0).rstrip(".,;:!?") if found else None


def caption_fields(text: str) -> dict[str, str]:
    """The declaration a caption makes: ``field: value`` lines, a ``#genre`` tag, a title line."""
    out: dict[str, str] = {}
    free: list[str] = []
    for line in (text or "").splitlines():
        if line.lstrip().startswith(">"):  # a client's quote of the message replied to
            continue
        match = _FIELD.match(line)
        if match:
            out.setdefault(match.group(1).lower(), match.group(2))
        elif line.strip():
            free.append(line.strip())
    tag = _TAG.search(" ".join(_URL.sub("", line) for line in free))
    if tag and "genre" not in out:
        out["genre"] = tag.group(1)
    for line in free:  # the first line with words besides links and tags is the title
        title = _TAG.sub("", _URL.sub("", line)).strip(" -–—:")
        if title:
            if "title" not in out and len(title) <= MAX_TITLE:
                out["title"] = title
            break
    return out
