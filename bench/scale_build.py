"""The data of bench/scale.py: one instance at community size, built once and cached.

Two ways to a current (``FORMAT``) build, both through the real migrations (``open_instance``):

* **upgrade** of a cached FORMAT 1 build (made before the near-duplicate index of migrations
  121/130): a copy is opened through the migrations it lacks and its 100,000 stored
  fingerprints are indexed by ``bots.runtime.catch_up_near_dup_index``, exactly what an
  upgraded instance does at its first start (without a 55-minute rebuild). Both steps are
  timed and kept in the build (``bench_build``).
* **from scratch**: the schema by the migrations, the 501 rounds through
  ``SqliteVotingRepository``, and the bulk rows with the repositories' own row mappings
  (``track_repository._values`` and ``provenance_codec.pack_values``; ``near_dup_index.STORED_ITEMS``,
  ``pack_values`` and ``core.near_dup.band_keys`` for the near-duplicate index) written by
  ``executemany`` on one connection (one repository call per row would take hours).
"""

from __future__ import annotations

import array
import asyncio
import hashlib
import json
import os
import random
import shutil
import sqlite3
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FORMAT = 2  # bump when the generated data changes; 2: the near-duplicate index of migrations 121/130
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
GENRE_NAMES = (
    "synthwave",
    "lofi",
    "ambient",
    "techno",
    "house",
    "rock",
    "metal",
    "jazz",
    "pop",
    "hiphop",
    "orchestral",
    "folk",
    "country",
    "reggae",
    "drum and bass",
)


@dataclass(frozen=True)
class Sizes:
    """How much of everything the instance holds."""

    tracks: int = 100_000
    members: int = 300_000
    prompts: int = 1_000_000
    track_votes: int = 2_000_000
    closed_rounds: int = 500
    closed_entries: int = 20
    closed_ballots: int = 200
    open_entries: int = 5_000
    open_ballots: int = 50_000
    digests: int = 52
    scale: float = 1.0

    def scaled(self, factor: float) -> Sizes:
        """Every count shrunk (a quick smoke run of the bench itself)."""
        return replace(
            self,
            tracks=int(self.tracks * factor),
            members=int(self.members * factor),
            prompts=int(self.prompts * factor),
            track_votes=int(self.track_votes * factor),
            closed_rounds=max(2, int(self.closed_rounds * factor)),
            open_entries=int(self.open_entries * factor),
            open_ballots=int(self.open_ballots * factor),
            scale=factor,
        )


def data_dir(directory: Path, sizes: Sizes, fmt: int = FORMAT) -> Path:
    """Where the build of this format and scale is cached."""
    suffix = "" if sizes.scale == 1 else f"-x{sizes.scale:g}"
    return directory / f"wavepool-scale-v{fmt}{suffix}"


def member(index: int) -> tuple[str, str, str]:
    """(platform, user id, display name) of the index-th member."""
    return ("discord", f"{10**17 + index}", f"member{index}")


# -- from scratch ---------------------------------------------------------------------------


async def _create(data: Path, sizes: Sizes) -> None:
    """Schema through the real migrations; rounds through the voting repository."""
    from bots.runtime import open_instance
    from config import load_settings
    from core.model import Sharer
    from core.voting_model import Phase, RoundRules
    from storage.sqlite.voting_repository import SqliteVotingRepository

    os.environ["WAVEPOOL_DATA_DIR"] = str(data)
    async with open_instance(load_settings(None)) as instance:
        repo = SqliteVotingRepository(instance.db)
        moderator = Sharer(*member(0))
        for index in range(sizes.closed_rounds + 1):
            start = NOW - timedelta(days=7 * (sizes.closed_rounds - index) + 3)
            created = await repo.create_round(
                RoundRules(theme=f"Theme {index}"),
                moderator,
                start,
                start + timedelta(days=2),
                start + timedelta(days=4),
                "discord:1",
            )
            if index < sizes.closed_rounds:
                await repo.set_phase(created.id, Phase.CLOSED, Phase.SUBMISSION)
            else:
                await repo.set_deadlines(created.id, NOW - timedelta(days=1), NOW + timedelta(days=30))
                await repo.set_phase(created.id, Phase.VOTING, Phase.SUBMISSION)


def _tracks(conn: sqlite3.Connection, pool: Path, rng: random.Random, sizes: Sizes) -> list[str]:
    from core.cid import cid_from_digest
    from core.model import (
        Evidence,
        InstanceId,
        QualityReport,
        Sharer,
        Strength,
        Track,
        TrackId,
        TrackStatus,
        Verdict,
    )
    from core.near_dup import band_keys
    from storage.provenance_codec import pack_values
    from storage.sqlite import track_repository as tr
    from storage.sqlite.near_dup_index import STORED_ITEMS

    ids: list[str] = []
    batches: tuple[list[Any], ...] = ([], [], [], [], [])
    rows, shares, prints, docs, bands = batches
    for index in range(sizes.tracks):
        blob = f"wavepool scale blob {index}".encode()
        cid = cid_from_digest(hashlib.sha256(blob).digest())
        target = pool / "blobs" / cid[-2:] / cid
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
        who = member(rng.randrange(sizes.members))
        seen = NOW - timedelta(seconds=rng.randrange(365 * 86400))
        duration = rng.uniform(60, 240)
        quarantined = index % 50 == 0
        genre = rng.choice(GENRE_NAMES)
        track = Track(
            id=TrackId(f"{index:016x}"),
            cid=cid,
            size=len(blob),
            media_type="audio/mpeg",
            duration_s=round(duration, 3),
            title=f"Track {index} {genre}",
            sharer=Sharer(*who),
            first_seen_at=seen,
            origin_instance=InstanceId("scale"),
            verdict=Verdict.QUARANTINED if quarantined else Verdict.DECLARED,
            verdict_reason="near duplicate of another member's track" if quarantined else "declared by the sharer",
            evidence=(Evidence("container", "container:mp3", Strength.INFO, "MP3 audio, 128 kb/s", {"codec": "mp3"}),),
            artist=who[2],
            genre=genre,
            tags=(genre,),
            prompt=f"{genre} track number {index}",
            style=genre,
            lyrics=None,
            generator="suno",
            generator_song_id=None,
            source_url=None,
            quality=QualityReport(-14.0, -1.0, 0.0, 0.0, 0.0, 0.3),
            status=TrackStatus.ACTIVE,
        )
        rows.append(tr._values(track))
        shares.append((track.id, *who, seen.isoformat(), "discord:1"))
        values = array.array("I", os.urandom(4 * int(min(duration, 180) * 7.96)))
        fp_duration = round(min(duration, 180), 2)
        prints.append((track.id, fp_duration, pack_values(values)))
        # the near-duplicate index's own rows, as SqliteNearDuplicateIndex.add writes them
        docs.append((index + 1, track.id, fp_duration, pack_values(values[:STORED_ITEMS])))
        bands.extend((band, index + 1) for band in band_keys(values))
        ids.append(track.id)
        if len(rows) == 5000:
            _flush_tracks(conn, batches)
    _flush_tracks(conn, batches)
    return ids


def _flush_tracks(conn: sqlite3.Connection, batches: tuple[list[Any], ...]) -> None:
    from storage.sqlite import track_repository as tr

    rows, shares, prints, docs, bands = batches
    conn.executemany(f"INSERT INTO tracks({tr._COLUMNS}) VALUES ({', '.join('?' * 25)})", rows)
    conn.executemany(
        "INSERT INTO shares(track_id, platform, user_id, display_name, shared_at, place) VALUES (?, ?, ?, ?, ?, ?)",
        shares,
    )
    conn.executemany("INSERT INTO fingerprints(track_id, duration_s, vals) VALUES (?, ?, ?)", prints)
    conn.executemany("INSERT INTO near_dup_docs(doc, track_id, duration_s, vals) VALUES (?, ?, ?, ?)", docs)
    conn.executemany("INSERT OR IGNORE INTO near_dup_bands(band, doc) VALUES (?, ?)", bands)
    conn.commit()
    for batch in batches:
        batch.clear()


def _prompts(conn: sqlite3.Connection, track_ids: list[str], rng: random.Random, sizes: Sizes) -> None:
    from bench.prompts import prompt_row, vocabulary

    words, cumulative = vocabulary()
    sql = "INSERT OR IGNORE INTO prompts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    link_sql = "INSERT OR IGNORE INTO prompt_tracks(prompt_id, track_id) VALUES (?, ?)"
    batch: list[tuple[Any, ...]] = []
    links: list[tuple[str, str]] = []
    for index in range(sizes.prompts):
        pid, body = prompt_row(rng, words, cumulative, index)
        created = (NOW - timedelta(seconds=rng.randrange(365 * 86400))).isoformat()
        batch.append((pid, body, "prompt", "suno", "{}", *member(rng.randrange(sizes.members)), created))
        if index < len(track_ids):
            links.append((pid, track_ids[index]))
        if len(batch) == 20000:
            conn.executemany(sql, batch)
            conn.executemany(link_sql, links)
            conn.commit()
            batch.clear()
            links.clear()
    conn.executemany(sql, batch)
    conn.executemany(link_sql, links)
    conn.commit()
    conn.execute("INSERT INTO prompts_fts(prompts_fts) VALUES ('optimize')")
    conn.execute("INSERT INTO tracks_fts(tracks_fts) VALUES ('optimize')")
    conn.commit()


def _votes(conn: sqlite3.Connection, track_ids: list[str], rng: random.Random, sizes: Sizes) -> None:
    seen: set[tuple[int, int]] = set()
    batch = []
    count = len(track_ids)
    while len(seen) < sizes.track_votes:
        # popular tracks get more votes: P(rank < k) = (k / tracks) ** (1/3); the top track gets ~2 %
        track = (int(count * rng.random() ** 3) * 7919) % count
        voter = rng.randrange(sizes.members)
        if (track, voter) in seen:
            continue
        seen.add((track, voter))
        cast = NOW - timedelta(seconds=rng.randrange(365 * 86400))
        batch.append((track_ids[track], *member(voter)[:2], 1, cast.isoformat()))
        if len(batch) == 50000:
            conn.executemany("INSERT OR IGNORE INTO track_votes VALUES (?, ?, ?, ?, ?)", batch)
            conn.commit()
            batch.clear()
    conn.executemany("INSERT OR IGNORE INTO track_votes VALUES (?, ?, ?, ?, ?)", batch)
    conn.commit()


def _rounds(conn: sqlite3.Connection, track_ids: list[str], rng: random.Random, sizes: Sizes) -> None:
    round_ids = [r[0] for r in conn.execute("SELECT id FROM rounds ORDER BY id")]
    for position, round_id in enumerate(round_ids):
        is_open = position == len(round_ids) - 1
        count, ballots = (
            (sizes.open_entries, sizes.open_ballots) if is_open else (sizes.closed_entries, sizes.closed_ballots)
        )
        at = (NOW - timedelta(days=7 * (len(round_ids) - 1 - position) + 2)).isoformat()
        picked = rng.sample(range(len(track_ids)), count)
        conn.executemany(
            "INSERT INTO entries(round_id, number, track_id, platform, user_id, display_name, submitted_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(round_id, n + 1, track_ids[t], *member(t % sizes.members), at) for n, t in enumerate(picked)],
        )
        voters = rng.sample(range(sizes.members), ballots // 2)
        rows = set()
        for voter in voters:  # two approvals each (of the three allowed)
            for entry in rng.sample(range(1, count + 1), 2):
                rows.add((round_id, entry, *member(voter)[:2], 1, at))
        conn.executemany("INSERT OR IGNORE INTO ballots VALUES (?, ?, ?, ?, ?, ?)", sorted(rows))
    conn.commit()


def _digests(conn: sqlite3.Connection, track_ids: list[str], sizes: Sizes) -> None:
    for week in range(sizes.digests):
        due = (NOW - timedelta(days=7 * (week + 1))).isoformat()
        body = {
            "title": f"Weekly digest {due[:10]}",
            "tracks": track_ids[week * 10 : week * 10 + 10],
            "text": "Top tracks of the week\n" + "\n".join(f"{i}. Track" for i in range(10)),
        }
        conn.execute(
            "INSERT OR REPLACE INTO bot_state(namespace, key, value) VALUES ('digest', ?, ?)",
            (f"week:{due}", json.dumps(body)),
        )
    conn.execute(
        "INSERT OR REPLACE INTO bot_state(namespace, key, value) VALUES ('digest', 'last_published_due', ?)",
        ((NOW - timedelta(days=7)).isoformat(),),
    )
    # every stored fingerprint is indexed: what a running instance records after its first start
    conn.execute(
        "INSERT OR REPLACE INTO bot_state(namespace, key, value) VALUES ('storage', 'near_dup_backfilled', '1')"
    )
    conn.commit()


def build_from_scratch(partial: Path, sizes: Sizes) -> dict[str, float]:
    """Every row of a new build into ``partial``; seconds per step."""
    asyncio.run(_create(partial, sizes))
    rng = random.Random(16)
    conn = sqlite3.connect(partial / "wavepool.sqlite3")
    conn.execute("PRAGMA synchronous=OFF")
    ids: list[str] = []
    steps = [
        ("tracks", lambda: ids.extend(_tracks(conn, partial / "pool", rng, sizes))),
        ("prompts", lambda: _prompts(conn, ids, rng, sizes)),
        ("track votes", lambda: _votes(conn, ids, rng, sizes)),
        ("rounds", lambda: _rounds(conn, ids, rng, sizes)),
        ("digests", lambda: _digests(conn, ids, sizes)),
    ]
    seconds: dict[str, float] = {}
    for name, step in steps:
        began = time.perf_counter()
        step()
        seconds[name] = round(time.perf_counter() - began, 1)
        print(f"  built {name} in {seconds[name]:.0f} s", flush=True)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    asyncio.run(_rebuild_terms(partial))
    return seconds


async def _rebuild_terms(data: Path) -> None:
    from storage.sqlite.database import Database
    from storage.sqlite.prompt_repository import SqlitePromptRepository

    db = await Database.open(data / "wavepool.sqlite3")
    try:
        await SqlitePromptRepository(db).rebuild_terms()
    finally:
        await db.close()


# -- upgrade of a FORMAT 1 build ------------------------------------------------------------


def _copy(source: Path, target: Path) -> None:
    """A consistent copy of a build (its database checkpointed first)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*-wal", "*-shm"))


def _before_backfill(path: Path) -> None:
    """Back to the state migration 121 leaves an old instance in: no fingerprint indexed yet.

    (The cached v1 build was opened once by a newer checkout, which migrated it to 121 and
    indexed part of it; an instance upgraded from FORMAT 1's schema starts from empty tables.)
    """
    conn = sqlite3.connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "near_dup_docs" in tables:
            conn.execute("DELETE FROM near_dup_bands")
            conn.execute("DELETE FROM near_dup_docs")
        conn.execute("DELETE FROM bot_state WHERE namespace = 'storage' AND key = 'near_dup_backfilled'")
        conn.execute("DROP TABLE IF EXISTS bench_complete")
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


async def _upgrade(data: Path) -> dict[str, float]:
    """Open through the missing migrations, then index every stored fingerprint; seconds of each."""
    from bots.runtime import catch_up_near_dup_index, open_instance
    from config import load_settings

    os.environ["WAVEPOOL_DATA_DIR"] = str(data)
    started = time.perf_counter()
    async with open_instance(load_settings(None)) as instance:
        migrated = time.perf_counter() - started
        began = time.perf_counter()
        indexed = await catch_up_near_dup_index(instance.db)
        backfill = time.perf_counter() - began
    print(f"  migrations {migrated:.1f} s; near-duplicate backfill of {indexed:,} tracks {backfill:.1f} s", flush=True)
    return {"upgrade migrations": round(migrated, 1), "near-dup backfill": round(backfill, 1), "indexed": indexed}


def upgrade(old: Path, partial: Path) -> dict[str, float]:
    """A FORMAT 1 build brought to the current schema the way an upgraded instance gets there."""
    began = time.perf_counter()
    _copy(old, partial)
    _before_backfill(partial / "wavepool.sqlite3")
    print(f"  copied {old} in {time.perf_counter() - began:.0f} s", flush=True)
    return asyncio.run(_upgrade(partial))


# -- federation rows (added to a build that lacks them) --------------------------------------

PEERS = 20
REPLICATED_SHARE = 0.3  # of the tracks, with a peer as their manifest's origin


def add_federation(data: Path) -> float:
    """A federating instance's rows: ``PEERS`` peers and a manifest for every track; seconds.

    Each manifest is ``core.federation.manifest.manifest_for`` of the stored track and its stored
    fingerprint (~5 KB, as published), so a scan of ``fed_manifests`` costs what it would.
    """
    from core.federation.manifest import manifest_for
    from core.model import Fingerprint
    from storage.provenance_codec import unpack_values
    from storage.sqlite import track_repository as tr

    began = time.perf_counter()
    rng = random.Random(220)
    conn = sqlite3.connect(data / "wavepool.sqlite3")
    conn.row_factory = sqlite3.Row
    try:
        peers = [f"peer{n:02d}" for n in range(PEERS)]
        seen = (NOW - timedelta(days=200)).isoformat()
        conn.executemany(
            "INSERT OR REPLACE INTO fed_peers(instance_id, user_id, public_key, name, community, homepage,"
            " first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (p, f"@{p}:peer.example", "k" * 44, f"Peer {p}", f"Community {p}", "", seen, NOW.isoformat())
                for p in peers
            ],
        )
        signature = {"instance": "scale", "key": "k" * 44, "sig": "s" * 88}
        batch: list[tuple[str, str, str, str, str]] = []
        columns = ", ".join("t." + c.strip() for c in tr._COLUMNS.split(","))
        cursor = conn.execute(
            f"SELECT {columns}, f.duration_s AS fp_s, f.vals AS fp_vals FROM tracks t"
            " JOIN fingerprints f ON f.track_id = t.id ORDER BY t.rowid"
        )
        for index, row in enumerate(cursor):
            track = tr._track(row)
            origin = rng.choice(peers) if rng.random() < REPLICATED_SHARE else "scale"
            print_ = Fingerprint(unpack_values(row["fp_vals"]), float(row["fp_s"]))
            manifest = {**manifest_for(track, [], "Scale", print_), "signature": signature}
            batch.append((track.id, track.cid, origin, json.dumps(manifest, sort_keys=True), f"$event{index}"))
            if len(batch) == 5000:
                _flush_manifests(conn, batch)
        _flush_manifests(conn, batch)
        seconds = round(time.perf_counter() - began, 1)
        conn.execute("CREATE TABLE IF NOT EXISTS bench_build (step TEXT PRIMARY KEY, seconds REAL NOT NULL)")
        conn.execute("INSERT OR REPLACE INTO bench_build VALUES ('federation rows', ?)", (seconds,))
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    print(f"  added {PEERS} peers and a manifest per track in {seconds:.0f} s", flush=True)
    return seconds


def _flush_manifests(conn: sqlite3.Connection, batch: list[tuple[str, str, str, str, str]]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO fed_manifests(track_id, cid, origin, manifest, event_id) VALUES (?, ?, ?, ?, ?)",
        batch,
    )
    conn.commit()
    batch.clear()


# -- the cache ------------------------------------------------------------------------------


def build(data: Path, sizes: Sizes, rebuild: bool = False) -> dict[str, float]:
    """Make the current build at ``data`` (upgrading a FORMAT 1 build when there is one); marks it complete last."""
    partial = data.with_name(data.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    started = time.perf_counter()
    old = data_dir(data.parent, sizes, fmt=1)
    if not rebuild and complete(old, fmt=1):
        print(f"upgrading {old}", flush=True)
        seconds = upgrade(old, partial)
    else:
        seconds = build_from_scratch(partial, sizes)
    seconds["total"] = round(time.perf_counter() - started, 1)
    conn = sqlite3.connect(partial / "wavepool.sqlite3")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_build (step TEXT PRIMARY KEY, seconds REAL NOT NULL)")
        conn.executemany("INSERT OR REPLACE INTO bench_build VALUES (?, ?)", seconds.items())
        conn.execute("CREATE TABLE IF NOT EXISTS bench_complete (format INTEGER NOT NULL)")
        conn.execute("INSERT INTO bench_complete VALUES (?)", (FORMAT,))
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    if data.exists():
        shutil.rmtree(data)
    os.replace(partial, data)
    size = (data / "wavepool.sqlite3").stat().st_size
    print(f"built {data} in {seconds['total']:.0f} s (database {size / 1e6:.0f} MB)", flush=True)
    return seconds


def build_seconds(data: Path) -> dict[str, float]:
    """What the cached build recorded about its own making."""
    with sqlite3.connect(f"file:{data / 'wavepool.sqlite3'}?mode=ro", uri=True) as conn:
        try:
            return {step: seconds for step, seconds in conn.execute("SELECT step, seconds FROM bench_build")}
        except sqlite3.Error:
            return {}


def complete(data: Path, fmt: int = FORMAT) -> bool:
    """Whether a cached build finished with this data format."""
    path = data / "wavepool.sqlite3"
    if not path.exists():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT format FROM bench_complete").fetchone() == (fmt,)
    except sqlite3.Error:
        return False
