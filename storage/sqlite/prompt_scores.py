"""Each prompt's length and repeated words in memory: FTS5's bm25 score of search candidates, without ``bm25()``.

FTS5's ``bm25()`` costs, per query, one pass over each phrase's whole doclist (to count its
documents) and, per ranked row, ~8 µs (the ``%_docsize`` row, the phrase instances). At a
million prompts that is most of a common-word search and most of its cold page reads
(docs/BENCHMARKS.md, "Prompt search at community size, issue 16 (16q)").

Given candidates that all contain every query word (FTS5's rowid-only walk of an AND of plain
words) and each word's document count (``prompt_terms``), ``PromptScores.rank`` orders them as
``ORDER BY bm25(prompts_fts), rowid DESC`` would, from:

* each prompt's length in tokens (two bytes),
* its repeated words with their counts: every candidate holds each query word at least once,
  so only repeats are stored (~2.3 a prompt: ~14 MB at a million prompts).

SQLite stays the truth: ``load`` reads the library, ``add`` records a prompt after its commit.
``score_table(db)`` is the one copy per open database that every repository object on it shares
(``SqlitePromptRepository.warm`` loads it at start-up; searches use ``bm25()`` until then).
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
from array import array
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from core.services.prompts import words
from storage.sqlite.database import Database

K1 = 1.2  # FTS5 bm25's constants
B = 0.75
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_MAX_LENGTH = 0xFFFF
_COUNT_BITS = 8


def tokens(text: str) -> list[str]:
    """The index's tokens of a text (``words``, with a fast path for ASCII text)."""
    lowered = text.lower()
    return _ASCII_WORD.findall(lowered) if lowered.isascii() else words(text)


def idf(rows: int, docs: int) -> float:
    """FTS5 bm25's inverse document frequency (1e-6 for words in more than half the rows)."""
    value = math.log((rows - docs + 0.5) / (docs + 0.5))
    return value if value > 0 else 1e-6


class PromptScores:
    """Lengths and repeated words of every prompt, packed by rowid (append-only: prompts are never deleted)."""

    def __init__(self) -> None:
        self._lengths = array("H", [0])  # by rowid; rowid 0 is never used
        self._starts = array("I", [0, 0])  # rowid r's repeats: _entries[_starts[r] : _starts[r + 1]]
        self._entries = array("I")  # word number << 8 | count (capped at 255)
        self._numbers: dict[str, int] = {}
        self._tokens = 0
        self.rows = 0

    @classmethod
    def load(cls, conn: sqlite3.Connection, stop: threading.Event | None = None) -> PromptScores | None:
        """Every prompt of the library (blocking: run it in a thread); None if ``stop`` was set meanwhile."""
        scores = cls()
        for count, (rowid, text) in enumerate(conn.execute("SELECT rowid, text FROM prompts ORDER BY rowid")):
            if stop is not None and count % 10_000 == 0 and stop.is_set():
                return None  # the instance is stopping: a load of ~15 s at a million must not hold up its exit
            scores.add(rowid, text)
        return scores

    @property
    def top(self) -> int:
        """The newest rowid recorded."""
        return len(self._lengths) - 1

    def add(self, rowid: int, text: str) -> None:
        """Record a committed prompt; a rowid already recorded is left as it is."""
        if rowid <= self.top:
            return
        for _gap in range(self.top + 1, rowid):
            self._lengths.append(0)
            self._starts.append(len(self._entries))
        found = tokens(text)
        for word, count in Counter(found).items():
            if count > 1:
                number = self._numbers.setdefault(word, len(self._numbers))
                self._entries.append(number << _COUNT_BITS | min(count, (1 << _COUNT_BITS) - 1))
        self._lengths.append(min(len(found), _MAX_LENGTH))
        self._starts.append(len(self._entries))
        self._tokens += len(found)
        self.rows += 1

    def scores(self, candidates: Sequence[int], query_words: Sequence[tuple[str, int]]) -> list[float]:
        """bm25 of each candidate (larger is better; FTS5's ``bm25()`` is its negative).

        ``query_words``: each plain query word with its document count; every candidate must
        contain every one of them."""
        rows = max(1, self.rows)
        average = self._tokens / rows or 1.0
        weights = [(self._numbers.get(word, -1), idf(rows, docs)) for word, docs in query_words]
        mask = (1 << _COUNT_BITS) - 1
        wanted = {number for number, _weight in weights if number >= 0}
        lengths, starts, entries, top = self._lengths, self._starts, self._entries, self.top
        out = []
        for rowid in candidates:  # ~2,000 a search: no dict unless the prompt repeats a query word
            if rowid <= top:
                norm = K1 * (1 - B + B * lengths[rowid] / average)
                start, end = starts[rowid], starts[rowid + 1]
            else:
                norm, start, end = K1, 0, 0
            repeats: dict[int, int] = {}
            if end > start and wanted:
                for entry in entries[start:end]:
                    if entry >> _COUNT_BITS in wanted:
                        repeats[entry >> _COUNT_BITS] = entry & mask
            score = 0.0
            for number, weight in weights:
                tf = repeats.get(number, 1) if repeats else 1
                score += weight * tf * (K1 + 1) / (tf + norm)
            out.append(score)
        return out

    def rank(self, candidates: Sequence[int], query_words: Sequence[tuple[str, int]], limit: int) -> list[int]:
        """The ``limit`` best candidates, as ``ORDER BY bm25(prompts_fts), rowid DESC`` orders them."""
        scored = sorted(
            zip(self.scores(candidates, query_words), candidates, strict=True), key=lambda s: (-s[0], -s[1])
        )
        return [rowid for _score, rowid in scored[:limit]]


class ScoreTable:
    """A database's ``PromptScores`` once loaded; prompts committed while it loads are replayed on it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scores: PromptScores | None = None
        self._loading = False
        self._pending: list[tuple[int, str]] = []

    @property
    def ready(self) -> bool:
        """Loaded: searches can rank with it."""
        return self._scores is not None

    def load(self, path: Path, stop: threading.Event | None = None) -> int:
        """Read the library (blocking: a worker thread); its prompts, 0 if loaded or loading already
        or if ``stop`` was set meanwhile (the instance is stopping)."""
        with self._lock:
            if self._loading or self._scores is not None:
                return 0
            self._loading = True
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                loaded = PromptScores.load(conn, stop)
            finally:
                conn.close()
            if loaded is None:
                with self._lock:
                    self._pending.clear()
                return 0
            scores = loaded
            with self._lock:  # commits seen by the read above are skipped by rowid
                for rowid, text in self._pending:
                    scores.add(rowid, text)
                self._pending.clear()
                self._scores = scores
            return scores.rows
        finally:
            with self._lock:
                self._loading = False

    @property
    def top(self) -> int:
        """The newest rowid recorded (0 until loaded)."""
        scores = self._scores
        return 0 if scores is None else scores.top

    def add(self, rowid: int, text: str) -> None:
        """Record a committed prompt (before a load: nothing, the load reads it from SQLite)."""
        with self._lock:
            if self._scores is not None:
                self._scores.add(rowid, text)
            elif self._loading:
                self._pending.append((rowid, text))

    def rank(self, candidates: Sequence[int], query_words: Sequence[tuple[str, int]], limit: int) -> list[int] | None:
        """``PromptScores.rank``, or None until loaded."""
        scores = self._scores
        return None if scores is None else scores.rank(candidates, query_words, limit)


def score_table(db: Database) -> ScoreTable:
    """The in-memory scores of ``db``'s prompts, shared by every repository object on it."""
    return db.beside(ScoreTable)
