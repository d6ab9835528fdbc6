"""An in-memory ``PromptRepository`` for fast unit tests, and an executable spec of the port.

It follows the SQLite repository's semantics closely enough for the shared contract tests:

* words are tokenised like FTS5 ``unicode61 remove_diacritics 2`` (``core.services.prompts.words``);
  every query word must match; the last one (2+ letters) also as a prefix of a word of the
  prompt; FTS5 syntax in the query (``AND OR NEAR( * "``) is plain text;
* results are ranked by a bm25-like score (term frequency, inverse document frequency,
  shorter texts first), ties newest first;
* ``more_like`` uses the prompt's rarest words (present in at least one other prompt) and
  never returns the prompt itself;
* ``top`` sums the votes of the tracks linked to each prompt (cast since a time); votes are
  fed in with ``add_vote`` (the SQLite repository reads the voting feature's table).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from core.model import TrackId
from core.services.prompts import Prompt, words

MORE_LIKE_TERMS = 6


class MemoryPromptRepository:
    """The prompt library in dicts (insertion order is the rowid order of SQLite)."""

    def __init__(self) -> None:
        self._prompts: dict[str, Prompt] = {}
        self._order: dict[str, int] = {}
        self._votes: list[tuple[TrackId, int, datetime]] = []

    # -- test helpers --------------------------------------------------------------------

    def add_vote(self, track_id: TrackId, value: int, at: datetime) -> None:
        """Record a vote on a track (what the voting feature stores)."""
        self._votes.append((track_id, value, at))

    # -- the port ------------------------------------------------------------------------

    async def save_or_link(self, prompt: Prompt, track_id: TrackId | None) -> tuple[Prompt, bool]:
        """Store ``prompt`` unless its id exists; link ``track_id`` either way; (stored, created)."""
        existing = self._prompts.get(prompt.id)
        created = existing is None
        base = existing if existing is not None else replace(prompt, track_ids=(), votes=0)
        if created:
            self._order[prompt.id] = len(self._order)
        if track_id and track_id not in base.track_ids:
            base = replace(base, track_ids=(*base.track_ids, track_id))
        self._prompts[prompt.id] = base
        return self._with_votes(base), created

    async def get(self, prompt_id: str) -> Prompt | None:
        """One entry by its full id."""
        found = self._prompts.get(prompt_id)
        return self._with_votes(found) if found else None

    async def resolve(self, ref: str) -> Prompt | None:
        """By id or an unambiguous prefix of at least 4 characters."""
        ref = ref.strip().lower()
        if ref in self._prompts:
            return await self.get(ref)
        if len(ref) < 4:
            return None
        hits = [pid for pid in self._prompts if pid.startswith(ref)]
        return await self.get(hits[0]) if len(hits) == 1 else None

    async def search(self, text: str, limit: int) -> Sequence[Prompt]:
        """Every word must match (the last also as a word prefix); best first."""
        typed = words(text)
        if not typed:
            return []
        last = typed[-1]
        exact = [t for t in dict.fromkeys(typed[:-1]) if t != last][:7]
        return self._ranked([*exact, last], limit, require_all=True, prefix=last if len(last) >= 2 else None)

    async def more_like(self, prompt_id: str, limit: int) -> Sequence[Prompt]:
        """Entries sharing the prompt's rarest words; never the prompt itself."""
        base = self._prompts.get(prompt_id)
        if base is None:
            return []
        docs = {pid: set(words(p.text)) for pid, p in self._prompts.items()}
        counts = {w: sum(1 for d in docs.values() if w in d) for w in set(words(base.text))}
        rare = sorted((w for w, n in counts.items() if n > 1), key=lambda w: (counts[w], w))[:MORE_LIKE_TERMS]
        if not rare:
            return []
        return self._ranked(rare, limit, require_all=False, exclude=prompt_id)

    async def top(self, limit: int, since: datetime | None) -> Sequence[Prompt]:
        """Entries by the summed votes of their tracks (cast since ``since``), most first."""
        ranked = [self._with_votes(p, since) for p in self._prompts.values()]
        ranked = [p for p in ranked if p.votes > 0]
        return sorted(ranked, key=lambda p: (-p.votes, p.id))[:limit]

    async def count(self) -> int:
        """Entries in the library."""
        return len(self._prompts)

    # -- internals -----------------------------------------------------------------------

    def _with_votes(self, prompt: Prompt, since: datetime | None = None) -> Prompt:
        linked = set(prompt.track_ids)
        total = sum(v for t, v, at in self._votes if t in linked and (since is None or at >= since))
        return replace(prompt, votes=total)

    def _ranked(
        self, terms: list[str], limit: int, require_all: bool, prefix: str | None = None, exclude: str | None = None
    ) -> list[Prompt]:
        if not terms or limit <= 0:
            return []
        docs = {pid: words(p.text) for pid, p in self._prompts.items()}
        if not docs:
            return []
        avg = sum(len(d) for d in docs.values()) / len(docs)

        def hits(word: str, doc: list[str]) -> int:
            return sum(1 for tok in doc if (tok.startswith(word) if word == prefix else tok == word))

        df = {w: sum(1 for d in docs.values() if hits(w, d)) for w in set(terms)}
        scored = []
        for pid, doc in docs.items():
            if pid == exclude:
                continue
            tfs = {w: hits(w, doc) for w in set(terms)}
            matched = [w for w, tf in tfs.items() if tf]
            if not matched or (require_all and len(matched) < len(set(terms))):
                continue
            score = 0.0
            for w in matched:
                idf = math.log((len(docs) - df[w] + 0.5) / (df[w] + 0.5) + 1)
                tf = tfs[w]
                score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len(doc) / avg))
            scored.append((-score, -self._order[pid], pid))
        scored.sort()
        return [self._with_votes(self._prompts[pid]) for _, _, pid in scored[:limit]]
