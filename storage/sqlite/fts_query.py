"""Member text to a safe FTS5 query: words become quoted prefix terms, operators vanish."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str, max_terms: int = 8, prefix: bool = True) -> str | None:
    """``'dreamy 80s "synth'`` → ``'"dreamy"* "80s"* "synth"*'``; None when no words."""
    words = _WORD.findall(text.lower())[:max_terms]
    if not words:
        return None
    star = "*" if prefix else ""
    return " ".join(f'"{word}"{star}' for word in words)
