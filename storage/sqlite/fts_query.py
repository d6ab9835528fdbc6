"""Member text to a safe FTS5 query: words become quoted terms, operators vanish."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str, max_terms: int = 8, prefix: bool = True) -> str | None:
    """``'dreamy 80s "synth'`` → ``'"dreamy" "80s" "synth"*'``; None when no words.

    Every word must match; the last one also as a prefix (what a member is still typing).
    Prefix terms are served by the tables' prefix indexes (2-6 characters).
    """
    words = _WORD.findall(text.lower())[:max_terms]
    if not words:
        return None
    terms = [f'"{word}"' for word in words]
    if prefix:
        terms[-1] += "*"
    return " ".join(terms)
