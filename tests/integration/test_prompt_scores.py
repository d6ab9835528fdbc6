"""PromptScores ranks candidates exactly as FTS5's bm25() does, on a real library, before and after new prompts."""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.services.prompts import Prompt, prompt_id
from storage.sqlite.database import Database
from storage.sqlite.prompt_repository import SqlitePromptRepository
from storage.sqlite.prompt_scores import PromptScores, score_table, tokens

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
VOCABULARY = "synth bass dreamy dark warm pads neon night city rain piano vocals choir drums tape lofi".split()
EXACT = (
    "SELECT rowid, bm25(prompts_fts) FROM prompts_fts WHERE prompts_fts MATCH ? ORDER BY bm25(prompts_fts), rowid DESC"
)


def library_texts(count: int, seed: int) -> list[str]:
    """Prompts of 3-40 words from a small vocabulary: many repeats and lengths, so ties and tf > 1 occur."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(3, 40))) for _ in range(count)]


@asynccontextmanager
async def opened(path: Path) -> AsyncIterator[Database]:
    """The database, closed even when an assertion fails (an open connection's thread would hang pytest's exit)."""
    db = await Database.open(path)
    try:
        yield db
    finally:
        await db.close()


async def save(repo: SqlitePromptRepository, texts: list[str]) -> None:
    for text in texts:
        await repo.save_or_link(Prompt(prompt_id("prompt", text), text, "prompt", "suno", {}, None, NOW), None)


def docs(conn: sqlite3.Connection, word: str) -> int:
    row = conn.execute("SELECT docs FROM prompt_terms WHERE term = ?", (word,)).fetchone()
    return int(row[0]) if row else 0


def check_matches_fts5(conn: sqlite3.Connection, scores: PromptScores, queries: list[list[str]]) -> None:
    for query in queries:
        exact = conn.execute(EXACT, (" AND ".join(f'"{w}"' for w in query),)).fetchall()
        assert exact, query
        candidates = sorted((r[0] for r in exact), reverse=True)  # the walk's order: newest first
        query_words = [(w, docs(conn, w)) for w in query]
        assert scores.rank(candidates, query_words, 10) == [r[0] for r in exact[:10]], query
        ours = dict(zip(candidates, scores.scores(candidates, query_words), strict=True))
        for rowid, fts5 in exact:
            assert ours[rowid] == pytest.approx(-fts5, rel=1e-9), (query, rowid)


QUERIES = [["synth"], ["dreamy", "synth"], ["neon", "night", "rain"], ["tape"], ["bass", "bass"], ["lofi", "choir"]]


async def test_rank_orders_candidates_as_fts5_bm25(tmp_path: Path) -> None:
    async with opened(tmp_path / "db.sqlite3") as db:
        await save(SqlitePromptRepository(db), library_texts(300, seed=1))
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        scores = PromptScores.load(conn)
        assert scores.rows == 300
        check_matches_fts5(conn, scores, QUERIES)


async def test_prompts_added_after_the_load_rank_as_fts5_does(tmp_path: Path) -> None:
    async with opened(tmp_path / "db.sqlite3") as db:
        repo = SqlitePromptRepository(db)
        await save(repo, library_texts(200, seed=2))
        with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
            scores = PromptScores.load(conn)
        later = [*library_texts(100, seed=3), "tape tape tape tape hiss"]
        await save(repo, later)
        for text in later:  # what the repository would do after each commit; a second add changes nothing
            row = await db.fetchone("SELECT rowid FROM prompts WHERE id = ?", (prompt_id("prompt", text),))
            assert row is not None
            scores.add(int(row[0]), text)
            scores.add(int(row[0]), text)
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        assert scores.rows == conn.execute("SELECT count(*) FROM prompts").fetchone()[0]
        check_matches_fts5(conn, scores, QUERIES)
        tape = conn.execute("SELECT rowid FROM prompts WHERE text = 'tape tape tape tape hiss'").fetchone()[0]
        candidates = [r[0] for r in conn.execute("SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH 'tape'")]
        assert scores.rank(candidates, [("tape", docs(conn, "tape"))], 1) == [tape]
        # a fresh load (a restart, or after kill -9: SQLite is the truth) gives the same scores
        reloaded = PromptScores.load(conn)
        assert reloaded.scores(candidates, [("tape", 9)]) == scores.scores(candidates, [("tape", 9)])


async def test_lengths_are_the_index_token_counts_in_any_script(tmp_path: Path) -> None:
    texts = ["Café déjà vu — naïve synth_wave 80s", "Ночной город, синтвейв", "東京 night drive 2024", "a-b c.d e'f"]
    async with opened(tmp_path / "db.sqlite3") as db:
        await save(SqlitePromptRepository(db), texts)
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        for rowid, text in conn.execute("SELECT rowid, text FROM prompts"):
            size = conn.execute("SELECT sz FROM prompts_fts_docsize WHERE id = ?", (rowid,)).fetchone()[0]
            assert len(tokens(text)) == size[0], text  # one column; sizes under 128 are one varint byte


SEARCHES = ["synth", "dreamy synth", "neon night rain", "tape", "lofi choir", "dreamy syn", "pia", "ta", "night ci"]


async def results(repo: SqlitePromptRepository) -> list[list[str]]:
    return [[p.id for p in await repo.search(text, 10)] for text in SEARCHES]


async def test_warm_search_returns_what_bm25_search_returns(tmp_path: Path) -> None:
    async with opened(tmp_path / "db.sqlite3") as db:
        repo = SqlitePromptRepository(db)
        await save(repo, library_texts(300, seed=4))
        cold = await results(repo)
        assert await SqlitePromptRepository(db).warm() == 300  # another object on the same database: one table
        assert await repo.warm() == 0
        assert score_table(db).ready
        assert await results(repo) == cold
        await save(repo, ["tape tape tape tape hiss", *library_texts(50, seed=5)])  # saved after the load
        warm_after = await results(repo)
        assert warm_after[SEARCHES.index("tape")][0] == prompt_id("prompt", "tape tape tape tape hiss")
    async with opened(tmp_path / "db.sqlite3") as db:  # a restart (or kill -9: SQLite is the truth)
        restarted = SqlitePromptRepository(db)
        assert await results(restarted) == warm_after  # bm25() before the load
        assert await restarted.warm() == 351
        assert await results(restarted) == warm_after


async def test_prompts_written_by_another_process_are_caught_up(tmp_path: Path) -> None:
    async with opened(tmp_path / "db.sqlite3") as db:
        repo = SqlitePromptRepository(db)
        await save(repo, library_texts(100, seed=6))
        await repo.warm()
        async with opened(tmp_path / "db.sqlite3") as other:  # e.g. a command run beside the instance
            await save(SqlitePromptRepository(other), ["tape tape tape tape hiss"])
        found = await repo.search("tape", 3)
        assert found[0].text == "tape tape tape tape hiss"
        newest = await db.fetchone("SELECT max(rowid) FROM prompts")
        assert newest is not None and score_table(db).top == newest[0]


async def test_a_load_stopped_by_the_instance_gives_up_and_a_later_one_loads(tmp_path: Path) -> None:
    async with opened(tmp_path / "db.sqlite3") as db:
        repo = SqlitePromptRepository(db)
        await save(repo, library_texts(50, seed=7))
        stop = threading.Event()
        stop.set()
        with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
            assert PromptScores.load(conn, stop) is None  # gives up at once: the instance is stopping
        table = score_table(db)
        assert await repo.warm() == 50 and table.ready
        assert await repo.warm() == 0  # loaded already
