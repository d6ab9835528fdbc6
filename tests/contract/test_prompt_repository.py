"""The PromptRepository contract: SQLite (tmp_path database) and the in-memory fake.

Votes reach the repository differently (SQLite reads the voting feature's ``track_votes``;
the fake is fed with ``add_vote``), so each fixture gives a ``vote`` function.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.errors import UsageError
from core.model import TrackId
from core.services.prompts import Prompt, PromptRepository, PromptService, prompt_id
from core.voting_model import Voter
from storage.memory_prompts import MemoryPromptRepository
from storage.sqlite.database import Database
from storage.sqlite.prompt_repository import SqlitePromptRepository
from storage.sqlite.voting_repository import SqliteVotingRepository
from tests.support.factories import member

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
ALICE = member("alice")


def entry(text: str, kind: str = "prompt", when: datetime = NOW) -> Prompt:
    return Prompt(prompt_id(kind, text), text, kind, "suno", {"model": "v4", "seed": 7}, ALICE, when)


@dataclass
class Lib:
    repo: PromptRepository
    vote: Callable[[str, str, int, datetime], Awaitable[None]]
    db: Database | None = None


@pytest.fixture(params=["sqlite", "memory"])
async def lib(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Lib]:
    if request.param == "memory":
        memory = MemoryPromptRepository()

        async def vote_memory(track: str, voter: str, value: int, at: datetime) -> None:
            memory.add_vote(TrackId(track), value, at)

        yield Lib(memory, vote_memory)
        return
    db = await Database.open(tmp_path / "db.sqlite3")
    votes = SqliteVotingRepository(db)

    async def vote_sqlite(track: str, voter: str, value: int, at: datetime) -> None:
        await votes.set_track_vote(TrackId(track), Voter("matrix", voter), value, at)

    yield Lib(SqlitePromptRepository(db), vote_sqlite, db)
    await db.close()


async def save_all(repo: PromptRepository, texts: list[str]) -> list[Prompt]:
    out = []
    for text in texts:
        stored, _ = await repo.save_or_link(entry(text), None)
        out.append(stored)
    return out


async def test_save_get_roundtrip_and_links(lib: Lib) -> None:
    original = entry("Dreamy 80s synthwave")
    stored, created = await lib.repo.save_or_link(original, TrackId("t1"))
    assert created and stored.track_ids == ("t1",) and stored.votes == 0
    got = await lib.repo.get(original.id)
    assert got is not None
    assert (got.text, got.kind, got.generator, dict(got.settings), got.author, got.created_at) == (
        "Dreamy 80s synthwave",
        "prompt",
        "suno",
        {"model": "v4", "seed": 7},
        ALICE,
        NOW,
    )
    again, created = await lib.repo.save_or_link(
        entry("Dreamy 80s synthwave", when=NOW + timedelta(days=1)), TrackId("t2")
    )
    assert not created and again.created_at == NOW and again.track_ids == ("t1", "t2")
    again, created = await lib.repo.save_or_link(original, TrackId("t1"))
    assert not created and again.track_ids == ("t1", "t2")
    assert await lib.repo.get("0" * 16) is None
    assert await lib.repo.count() == 1


async def test_resolve_by_prefix(lib: Lib) -> None:
    stored = await save_all(lib.repo, ["one", "two", "three", "four", "five", "six"])
    target = stored[0]
    assert (await lib.repo.resolve(target.id)) == await lib.repo.get(target.id)
    resolved = await lib.repo.resolve(target.id[:5])
    assert resolved is not None and resolved.id == target.id
    assert await lib.repo.resolve(target.id[:3]) is None  # too short
    assert await lib.repo.resolve("zzzzzz") is None


async def test_resolve_refuses_ambiguous_prefix(lib: Lib) -> None:
    texts = [f"text {n}" for n in range(400)]
    stored = await save_all(lib.repo, texts)
    by_prefix: dict[str, list[str]] = {}
    for p in stored:
        by_prefix.setdefault(p.id[:4], []).append(p.id)
    shared = next((ids for ids in by_prefix.values() if len(ids) > 1), None)
    assert shared is not None  # 400 ids over 65,536 four-digit prefixes: a clash is all but certain
    assert await lib.repo.resolve(shared[0][:4]) is None
    assert (await lib.repo.resolve(shared[0])).id == shared[0]  # type: ignore[union-attr]


async def test_search_ranks_by_relevance(lib: Lib) -> None:
    await save_all(
        lib.repo,
        [
            "dark techno with heavy bass and a long build into a warehouse drop at night",
            "synthwave sunset drive",
            "neon synthwave, retro synthwave night",
            "acoustic folk ballad",
            "a long ambient piece with a little synthwave flavour, field recordings, tape hiss and rain",
        ],
    )
    found = [p.text for p in await lib.repo.search("synthwave", 10)]
    assert found == [
        "neon synthwave, retro synthwave night",
        "synthwave sunset drive",
        "a long ambient piece with a little synthwave flavour, field recordings, tape hiss and rain",
    ]
    assert [p.text for p in await lib.repo.search("synthwave night", 10)] == ["neon synthwave, retro synthwave night"]
    assert [p.text for p in await lib.repo.search("synthwave", 2)] == found[:2]
    assert await lib.repo.search("polka", 10) == []


async def test_rare_words_outrank_common_ones(lib: Lib) -> None:
    await save_all(lib.repo, [f"lofi beat number {n}" for n in range(20)] + ["lofi theremin solo"])
    found = await lib.repo.search("lofi theremin", 5)
    assert [p.text for p in found] == ["lofi theremin solo"]
    # OR-like relevance is not what search does: every word must match
    assert [p.text for p in await lib.repo.search("theremin", 5)] == ["lofi theremin solo"]


async def test_prefix_terms(lib: Lib) -> None:
    await save_all(
        lib.repo,
        [
            "synthwave sunset drive",
            "synth pads and arpeggios",
            "synthetic choir",
            "sunny ska",
            "Café au lait jazz",
            "synthwave sundown",
        ],
    )
    # the last word matches as a prefix: short (prefix index) and long (vocabulary expansion)
    assert {p.text for p in await lib.repo.search("synth", 10)} == {
        "synthwave sunset drive",
        "synth pads and arpeggios",
        "synthetic choir",
        "synthwave sundown",
    }
    assert {p.text for p in await lib.repo.search("sy", 10)} == {
        "synthwave sunset drive",
        "synth pads and arpeggios",
        "synthetic choir",
        "synthwave sundown",
    }
    assert {p.text for p in await lib.repo.search("synthwa", 10)} == {"synthwave sunset drive", "synthwave sundown"}
    assert {p.text for p in await lib.repo.search("arpeggi", 10)} == {"synth pads and arpeggios"}
    assert {p.text for p in await lib.repo.search("synthwave sun", 10)} == {
        "synthwave sunset drive",
        "synthwave sundown",
    }
    assert {p.text for p in await lib.repo.search("synthwave sunse", 10)} == {"synthwave sunset drive"}
    # earlier words match whole words only
    assert await lib.repo.search("syn sunset", 10) == []
    assert {p.text for p in await lib.repo.search("sunset synthwave", 10)} == {"synthwave sunset drive"}
    # a one-letter last word is a whole word
    assert await lib.repo.search("s", 10) == []
    assert [p.text for p in await lib.repo.search("CAFE", 10)] == ["Café au lait jazz"]  # case and accents
    assert [p.text for p in await lib.repo.search("café au", 10)] == ["Café au lait jazz"]


async def test_long_prefix_expands_to_the_most_common_completions(lib: Lib) -> None:
    await save_all(lib.repo, [f"zzzzzzzword{n} extra" for n in range(30)] + ["zzzzzzzword7 again"])
    found = await lib.repo.search("zzzzzzzw", 50)
    assert "zzzzzzzword7 again" in {p.text for p in found}  # the most common completion is kept
    assert len(found) >= 17  # the word itself or at least 16 completions


@pytest.mark.parametrize(
    "hostile",
    [
        '"AND OR NEAR( *',
        "AND",
        "OR",
        "NOT",
        "NEAR(",
        "*",
        '"',
        "synthwave -",
        "col:synthwave",
        "text:synth",
        "^synth",
        "synth +",
        "(synth",
        "synth)",
        "{text}: synth",
        "synth\x00wave",
        "'; DROP TABLE prompts; --",
    ],
)
async def test_operators_in_member_text_do_not_break_queries(lib: Lib, hostile: str) -> None:
    await save_all(lib.repo, ["synthwave and near or not", "plain folk"])
    found = await lib.repo.search(hostile, 10)  # never raises
    assert all(isinstance(p, Prompt) for p in found)
    assert await lib.repo.count() == 2


async def test_operator_words_are_plain_words(lib: Lib) -> None:
    await save_all(lib.repo, ["rock AND roll", "near the ocean", "rock ballad"])
    assert [p.text for p in await lib.repo.search("AND roll", 10)] == ["rock AND roll"]
    assert [p.text for p in await lib.repo.search('NEAR("ocean"', 10)] == ["near the ocean"]


async def test_more_like_uses_distinctive_words_and_excludes_itself(lib: Lib) -> None:
    base, like, _road = await save_all(
        lib.repo, ["glitchy vaporwave mall ambience", "vaporwave mall music", "country road trip"]
    )
    await save_all(lib.repo, [f"music for a walk number {n}" for n in range(6)])
    found = await lib.repo.more_like(base.id, 5)
    assert found and found[0].id == like.id
    assert base.id not in {p.id for p in found}
    assert await lib.repo.more_like("0" * 16, 5) == []
    lonely = (await save_all(lib.repo, ["xylophone zither"]))[0]
    assert await lib.repo.more_like(lonely.id, 5) == []  # no word in common with anything


async def test_top_by_votes_of_tracks(lib: Lib) -> None:
    a, _ = await lib.repo.save_or_link(entry("prompt a"), TrackId("t1"))
    await lib.repo.save_or_link(entry("prompt a"), TrackId("t2"))
    b, _ = await lib.repo.save_or_link(entry("prompt b"), TrackId("t3"))
    c, _ = await lib.repo.save_or_link(entry("prompt c"), TrackId("t4"))
    await lib.repo.save_or_link(entry("prompt d"), None)
    await lib.vote("t1", "@x:hs", 1, NOW)
    await lib.vote("t2", "@x:hs", 1, NOW - timedelta(days=30))
    await lib.vote("t3", "@x:hs", 1, NOW)
    await lib.vote("t3", "@y:hs", 1, NOW)
    await lib.vote("t3", "@z:hs", 1, NOW - timedelta(days=10))
    await lib.vote("t4", "@x:hs", 1, NOW - timedelta(days=1))
    assert [(p.id, p.votes) for p in await lib.repo.top(10, None)] == [(b.id, 3), *sorted([(a.id, 2)]), (c.id, 1)]
    recent = await lib.repo.top(10, NOW - timedelta(days=7))
    assert [(p.id, p.votes) for p in recent] == [(b.id, 2), *sorted([(a.id, 1), (c.id, 1)])]
    assert [p.id for p in await lib.repo.top(1, None)] == [b.id]
    assert (await lib.repo.get(a.id)).votes == 2  # type: ignore[union-attr]
    found = await lib.repo.search("prompt b", 10)
    assert found[0].id == b.id and found[0].votes == 3 and found[0].track_ids == ("t3",)


async def test_search_and_more_like_return_tracks(lib: Lib) -> None:
    await lib.repo.save_or_link(entry("ocean waves ambient"), TrackId("t1"))
    await lib.repo.save_or_link(entry("ocean waves ambient"), TrackId("t2"))
    found = await lib.repo.search("ocean", 10)
    assert found[0].track_ids == ("t1", "t2")


async def test_dedupe_and_index_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = await Database.open(path)
    service = PromptService(SqlitePromptRepository(db), _Clock())
    first, created = await service.save("Haunted  carnival waltz", track_id=TrackId("t1"))
    assert created
    await db.close()
    db = await Database.open(path)
    service = PromptService(SqlitePromptRepository(db), _Clock())
    again, created = await service.save("haunted carnival WALTZ", track_id=TrackId("t2"))
    assert not created and again.id == first.id and again.track_ids == ("t1", "t2")
    assert [p.id for p in await service.search("carniv")] == [first.id]
    assert await service.count() == 1
    with pytest.raises(UsageError):
        await service.search("")
    await db.close()


async def test_migration_fills_the_vocabulary_of_existing_prompts(tmp_path: Path) -> None:
    from storage.sqlite.migrations import MIGRATIONS

    path = tmp_path / "db.sqlite3"
    before = tuple(m for m in MIGRATIONS if m.name != "prompt vocabulary")
    db = await Database.open(path, before)
    await db.execute(
        "INSERT INTO prompts(id, text, kind, generator, settings, created_at)"
        " VALUES ('abcd000000000000', 'old shoegaze wall of sound', 'prompt', NULL, '{}', ?)",
        (NOW.isoformat(),),
    )
    await db.close()
    db = await Database.open(path)
    repo = SqlitePromptRepository(db)
    assert [p.id for p in await repo.search("wall shoegaz", 10)] == ["abcd000000000000"]  # expansion
    row = await db.fetchone("SELECT docs FROM prompt_terms WHERE term = 'shoegaze'")
    assert row is not None and row[0] == 1
    await db.close()


class _Clock:
    def now(self) -> datetime:
        return NOW


SCRIPTS = [
    "नमस्ते दुनिया संगीत",
    "Привет мир ёлка",
    "東京の夜 シティポップ",
    "Ça déjà vu naïve Øresund straße ﬁre ½ x²",
    "١٢٣ عربى مُوسِيقَى",
    "Ελληνικά μουσική",
    "tiếng Việt nhạc",
    'cafe\u0301 e\u0301te\u0301 lo-fi_80s "AND" NEAR(',
    "ǅemal ĳ Ǆ ŉ ẞ İstanbul",
]


async def test_words_are_the_tokens_of_the_index(tmp_path: Path) -> None:
    from core.services.prompts import words

    db = await Database.open(tmp_path / "db.sqlite3")
    await db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='unicode61 remove_diacritics 2')")
    await db.execute("CREATE VIRTUAL TABLE t_vocab USING fts5vocab(t, 'instance')")
    for rowid, text in enumerate(SCRIPTS):
        await db.execute("INSERT INTO t(rowid, x) VALUES (?, ?)", (rowid, text))
        rows = await db.fetchall("SELECT term FROM t_vocab WHERE doc = ? ORDER BY offset", (rowid,))
        assert words(text) == [r[0] for r in rows], text
    await db.close()


@pytest.mark.parametrize(
    "query, expected",
    [
        ("संगीत", 0),
        ("ёлка", 1),
        ("ЁЛ", 1),
        ("シティポップ", 2),
        ("deja vu", 3),
        ("DÉJÀ", 3),
        ("Ørésund", 3),
        ("مُوسِيقَى", 4),
        ("μουσική", 5),
        ("viet nhac", 6),
        ("istanbul", 8),
    ],
)
async def test_search_in_many_scripts(lib: Lib, query: str, expected: int) -> None:
    stored = await save_all(lib.repo, SCRIPTS)
    assert [p.id for p in await lib.repo.search(query, 10)] == [stored[expected].id]
