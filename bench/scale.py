"""The instance at community size: chat commands, digest build, start-up and memory.

    .venv/bin/python bench/scale.py [--dir DIR] [--rebuild] [--runs 200]

Builds once (cached as DIR/wavepool-scale-v<FORMAT>/, DIR defaulting to the system temp
dir; reused only when the build finished) one instance's data directory: the schema by the
real migrations (``open_instance``), the 501 rounds through ``SqliteVotingRepository``,
and the bulk rows with the repositories' own row mappings (``track_repository._values``,
``_pack`` and ``bucket_keys`` for fingerprints) written by ``executemany`` on one
connection (one repository call per row would take hours):

* 100,000 tracks (2 % quarantined) with one share each, a 60-240 s fingerprint each and
  its near-duplicate keys, a small blob each in the pool;
* 300,000 members (sharers and voters), 2,000,000 track votes over the last year;
* 1,000,000 prompts (bench/prompts.py's generator), one linked to each track;
* 500 closed rounds (20 entries, 200 ballots each) and one open round in its voting phase
  with 5,000 entries and 50,000 ballots; 52 published weekly digests.

Then measures, in a child process that opens the instance the way ``wavepool cmd`` does
and runs each command through the command registry (``run_chat_command``): p50/p99 of every
chat command a member or moderator uses, the weekly digest build, the child's RSS; and
``wavepool run`` start-up to a healthy /healthz and its RSS idle and after serving.
Goals: every command p99 < 50 ms, digest build < 2 s, start-up < 3 s, RSS < 200 MB.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import hashlib
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scale_measure import (  # noqa: E402
    _env,
    _patch_analysis,
    _percentiles,
    _rss_mb,
    import_costs,
    startup,
)

FORMAT = 1  # bump when the generated data changes
TRACKS = 100_000
MEMBERS = 300_000
PROMPTS = 1_000_000
TRACK_VOTES = 2_000_000
CLOSED_ROUNDS = 500
CLOSED_ENTRIES = 20
CLOSED_BALLOTS = 200
OPEN_ENTRIES = 5_000
OPEN_BALLOTS = 50_000
DIGESTS = 52
BUDGET_S = 10.0  # seconds of calls per command, after at least MIN_CALLS calls
MIN_CALLS = 5
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


def data_dir(directory: Path) -> Path:
    return directory / f"wavepool-scale-v{FORMAT}" if SCALE == 1 else directory / f"wavepool-scale-v{FORMAT}-x{SCALE:g}"


SCALE = 1.0


def _scale(factor: float) -> None:
    """Shrink every count (a quick smoke run of the bench itself)."""
    global SCALE, TRACKS, MEMBERS, PROMPTS, TRACK_VOTES, CLOSED_ROUNDS, OPEN_ENTRIES, OPEN_BALLOTS
    SCALE = factor
    TRACKS, MEMBERS, PROMPTS = int(TRACKS * factor), int(MEMBERS * factor), int(PROMPTS * factor)
    TRACK_VOTES, CLOSED_ROUNDS = int(TRACK_VOTES * factor), max(2, int(CLOSED_ROUNDS * factor))
    OPEN_ENTRIES, OPEN_BALLOTS = int(OPEN_ENTRIES * factor), int(OPEN_BALLOTS * factor)


def _member(index: int) -> tuple[str, str, str]:
    return ("discord", f"{10**17 + index}", f"member{index}")


# -- building ------------------------------------------------------------------------------


async def _create(data: Path) -> None:
    """Schema through the real migrations; rounds through the voting repository."""
    from bots.runtime import open_instance
    from config import load_settings
    from core.model import Sharer
    from core.voting_model import Phase, RoundRules
    from storage.sqlite.voting_repository import SqliteVotingRepository

    os.environ["WAVEPOOL_DATA_DIR"] = str(data)
    async with open_instance(load_settings(None)) as instance:
        repo = SqliteVotingRepository(instance.db)
        moderator = Sharer(*_member(0))
        for index in range(CLOSED_ROUNDS + 1):
            start = NOW - timedelta(days=7 * (CLOSED_ROUNDS - index) + 3)
            created = await repo.create_round(
                RoundRules(theme=f"Theme {index}"),
                moderator,
                start,
                start + timedelta(days=2),
                start + timedelta(days=4),
                "discord:1",
            )
            if index < CLOSED_ROUNDS:
                await repo.set_phase(created.id, Phase.CLOSED, Phase.SUBMISSION)
            else:
                await repo.set_deadlines(created.id, NOW - timedelta(days=1), NOW + timedelta(days=30))
                await repo.set_phase(created.id, Phase.VOTING, Phase.SUBMISSION)


def _tracks(conn: sqlite3.Connection, pool: Path, rng: random.Random) -> list[str]:
    from core.cid import cid_from_digest
    from core.fingerprint import bucket_keys
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
    from storage.sqlite import track_repository as tr

    ids: list[str] = []
    columns = tr._COLUMNS
    rows, shares, prints, keys = [], [], [], []
    for index in range(TRACKS):
        blob = f"wavepool scale blob {index}".encode()
        cid = cid_from_digest(hashlib.sha256(blob).digest())
        target = pool / "blobs" / cid[-2:] / cid
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
        member = _member(rng.randrange(MEMBERS))
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
            sharer=Sharer(*member),
            first_seen_at=seen,
            origin_instance=InstanceId("scale"),
            verdict=Verdict.QUARANTINED if quarantined else Verdict.DECLARED,
            verdict_reason="near duplicate of another member's track" if quarantined else "declared by the sharer",
            evidence=(Evidence("container", "container:mp3", Strength.INFO, "MP3 audio, 128 kb/s", {"codec": "mp3"}),),
            artist=member[2],
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
        shares.append((track.id, *member, seen.isoformat(), "discord:1"))
        values = array.array("I", os.urandom(4 * int(min(duration, 180) * 7.96)))
        prints.append((track.id, round(min(duration, 180), 2), values.tobytes()))
        keys.extend((key, track.id) for key in bucket_keys(values))
        ids.append(track.id)
        if len(rows) == 5000:
            _flush_tracks(conn, columns, rows, shares, prints, keys)
    _flush_tracks(conn, columns, rows, shares, prints, keys)
    return ids


def _flush_tracks(conn: sqlite3.Connection, columns: str, *batches: list[Any]) -> None:
    rows, shares, prints, keys = batches
    conn.executemany(f"INSERT INTO tracks({columns}) VALUES ({', '.join('?' * 25)})", rows)
    conn.executemany(
        "INSERT INTO shares(track_id, platform, user_id, display_name, shared_at, place) VALUES (?, ?, ?, ?, ?, ?)",
        shares,
    )
    conn.executemany("INSERT INTO fingerprints(track_id, duration_s, vals) VALUES (?, ?, ?)", prints)
    conn.executemany("INSERT INTO fingerprint_keys(key, track_id) VALUES (?, ?)", keys)
    conn.commit()
    for batch in batches:
        batch.clear()


def _prompts(conn: sqlite3.Connection, track_ids: list[str], rng: random.Random) -> None:
    from bench.prompts import vocabulary

    words, cumulative = vocabulary()
    sql = "INSERT OR IGNORE INTO prompts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    batch, links = [], []
    for index in range(PROMPTS):
        drawn = rng.choices(words, cum_weights=cumulative, k=40)
        text, count = [], 0
        for word in drawn:
            if count >= 190:
                break
            text.append(word)
            count += len(word) + 1
        body = " ".join(text)
        pid = hashlib.sha256(f"prompt\x00{index}\x00{body}".encode()).hexdigest()[:16]
        created = (NOW - timedelta(seconds=rng.randrange(365 * 86400))).isoformat()
        batch.append((pid, body, "prompt", "suno", "{}", *_member(rng.randrange(MEMBERS)), created))
        if index < len(track_ids):
            links.append((pid, track_ids[index]))
        if len(batch) == 20000:
            conn.executemany(sql, batch)
            conn.executemany("INSERT OR IGNORE INTO prompt_tracks(prompt_id, track_id) VALUES (?, ?)", links)
            conn.commit()
            batch.clear()
            links.clear()
    conn.executemany(sql, batch)
    conn.executemany("INSERT OR IGNORE INTO prompt_tracks(prompt_id, track_id) VALUES (?, ?)", links)
    conn.commit()
    conn.execute("INSERT INTO prompts_fts(prompts_fts) VALUES ('optimize')")
    conn.execute("INSERT INTO tracks_fts(tracks_fts) VALUES ('optimize')")
    conn.commit()


def _votes(conn: sqlite3.Connection, track_ids: list[str], rng: random.Random) -> None:
    seen: set[tuple[int, int]] = set()
    batch = []
    count = len(track_ids)
    while len(seen) < TRACK_VOTES:
        # popular tracks get more votes: P(rank < k) = (k / tracks) ** (1/3); the top track gets ~2 %
        track = (int(count * rng.random() ** 3) * 7919) % count
        member = rng.randrange(MEMBERS)
        if (track, member) in seen:
            continue
        seen.add((track, member))
        cast = NOW - timedelta(seconds=rng.randrange(365 * 86400))
        batch.append((track_ids[track], *_member(member)[:2], 1, cast.isoformat()))
        if len(batch) == 50000:
            conn.executemany("INSERT OR IGNORE INTO track_votes VALUES (?, ?, ?, ?, ?)", batch)
            conn.commit()
            batch.clear()
    conn.executemany("INSERT OR IGNORE INTO track_votes VALUES (?, ?, ?, ?, ?)", batch)
    conn.commit()


def _rounds(conn: sqlite3.Connection, track_ids: list[str], rng: random.Random) -> None:
    round_ids = [r[0] for r in conn.execute("SELECT id FROM rounds ORDER BY id")]
    for position, round_id in enumerate(round_ids):
        is_open = position == len(round_ids) - 1
        count, ballots = (OPEN_ENTRIES, OPEN_BALLOTS) if is_open else (CLOSED_ENTRIES, CLOSED_BALLOTS)
        at = (NOW - timedelta(days=7 * (len(round_ids) - 1 - position) + 2)).isoformat()
        picked = rng.sample(range(len(track_ids)), count)
        conn.executemany(
            "INSERT INTO entries(round_id, number, track_id, platform, user_id, display_name, submitted_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(round_id, number + 1, track_ids[t], *_member(t % MEMBERS), at) for number, t in enumerate(picked)],
        )
        voters = rng.sample(range(MEMBERS), ballots // 2)
        rows = set()
        for voter in voters:  # two approvals each (of the three allowed)
            for entry in rng.sample(range(1, count + 1), 2):
                rows.add((round_id, entry, *_member(voter)[:2], 1, at))
        conn.executemany("INSERT OR IGNORE INTO ballots VALUES (?, ?, ?, ?, ?, ?)", sorted(rows))
    conn.commit()


def _digests(conn: sqlite3.Connection, track_ids: list[str]) -> None:
    for week in range(DIGESTS):
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
    conn.commit()


def build(data: Path) -> None:
    """Build the data directory (cached); marks it complete last."""
    partial = data.with_name(data.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    started = time.perf_counter()
    asyncio.run(_create(partial))
    rng = random.Random(16)
    conn = sqlite3.connect(partial / "wavepool.sqlite3")
    conn.execute("PRAGMA synchronous=OFF")
    steps = [
        ("tracks", lambda: ids.extend(_tracks(conn, partial / "pool", rng))),
        ("prompts", lambda: _prompts(conn, ids, rng)),
        ("track votes", lambda: _votes(conn, ids, rng)),
        ("rounds", lambda: _rounds(conn, ids, rng)),
        ("digests", lambda: _digests(conn, ids)),
    ]
    ids: list[str] = []
    for name, step in steps:
        began = time.perf_counter()
        step()
        print(f"  built {name} in {time.perf_counter() - began:.0f} s", flush=True)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    asyncio.run(_finish(partial))
    os.replace(partial, data) if not data.exists() else (shutil.rmtree(data), os.replace(partial, data))
    size = (data / "wavepool.sqlite3").stat().st_size
    print(f"built {data} in {time.perf_counter() - started:.0f} s (database {size / 1e6:.0f} MB)", flush=True)


async def _finish(data: Path) -> None:
    from storage.sqlite.database import Database
    from storage.sqlite.prompt_repository import SqlitePromptRepository

    db = await Database.open(data / "wavepool.sqlite3")
    await SqlitePromptRepository(db).rebuild_terms()
    await db.execute("CREATE TABLE IF NOT EXISTS bench_complete (format INTEGER NOT NULL)")
    await db.execute("INSERT INTO bench_complete VALUES (?)", (FORMAT,))
    await db.fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
    await db.close()


def complete(data: Path) -> bool:
    """Whether a cached build finished with this data format."""
    path = data / "wavepool.sqlite3"
    if not path.exists():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT format FROM bench_complete").fetchone() == (FORMAT,)
    except sqlite3.Error:
        return False


# -- measuring -----------------------------------------------------------------------------


async def _commands(data: Path, runs: int, work: Path) -> dict[str, Any]:
    """p50/p99 of each chat command through the registry, the digest build, this process's RSS."""
    from bench.prompts import queries
    from bots.cli.chat_commands import run_chat_command
    from bots.runtime import open_instance
    from config import load_settings

    _patch_analysis()
    os.environ["WAVEPOOL_DATA_DIR"] = str(data)
    rng = random.Random(5)
    rss_before = _rss_mb()[0]
    opened = time.perf_counter()
    async with open_instance(load_settings(None)) as instance:
        open_s = time.perf_counter() - opened
        db = instance.db
        track_ids = [r[0] for r in await db.fetchall("SELECT id FROM tracks ORDER BY random() LIMIT ?", (runs * 2,))]
        open_round = (await db.fetchone("SELECT id FROM rounds WHERE phase = 'voting'"))[0]
        closed = [r[0] for r in await db.fetchall("SELECT id FROM rounds WHERE phase = 'closed'")]
        prompt_texts = [text for _kind, text in queries(runs + 20)]
        counter = iter(range(10**9))

        def share_words(i: int) -> tuple[list[str], str | None]:
            path = work / f"share{i}.mp3"
            path.write_bytes(os.urandom(65536))
            return ["share", f"--file={path}", "--genre=synthwave"], f"sharer{i}"

        commands: dict[str, Any] = {
            "track card": lambda i: (["track", rng.choice(track_ids)], f"viewer{i}"),
            "search": lambda i: (["search", rng.choice(GENRE_NAMES), rng.choice(("track", "number", "1"))], None),
            "prompt search": lambda i: (["prompt", "search", *prompt_texts[i % len(prompt_texts)].split()], None),
            "round status": lambda i: (["round", "status"], None),
            "round vote": lambda i: (
                ["round", "vote", str(open_round), str(rng.randint(1, OPEN_ENTRIES)), "1"],
                f"voter{next(counter)}",
            ),
            "round results": lambda i: (["round", "results", str(rng.choice(closed))], None),
            "digest preview": lambda i: (["digest", "preview"], None),
            "review queue": lambda i: (["review"], None),
            "genres": lambda i: (["genres"], None),
            "peers": lambda i: (["peers"], None),
            "share (no analysis)": share_words,
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        failures: dict[str, str] = {}
        for make in commands.values():  # one call each warms the page cache and the code paths
            words, user = make(10**6)
            await run_chat_command(instance, words, user)
        for name, make in commands.items():  # command by command: a slow one cannot hold up the rest
            spent = 0.0
            for i in range(runs):
                if spent > BUDGET_S and len(samples[name]) >= MIN_CALLS:
                    break  # a slow command: enough calls to know it misses
                words, user = make(i)
                started = time.perf_counter()
                text, ok = await run_chat_command(instance, words, user)
                samples[name].append(time.perf_counter() - started)
                spent += samples[name][-1]
                if not ok:
                    failures.setdefault(name, text[:160])
            p50, p99 = _percentiles(samples[name])
            print(
                f"{name}: {len(samples[name])} calls, p50 {p50:.1f} ms, p99 {p99:.1f} ms", file=sys.stderr, flush=True
            )
        serving = _rss_mb()
        digest_runs = []
        for _ in range(3):
            started = time.perf_counter()
            await instance.app.digest.build()
            digest_runs.append(time.perf_counter() - started)
    return {
        "commands": {name: _percentiles(values) for name, values in samples.items()},
        "calls": {name: len(values) for name, values in samples.items()},
        "failures": failures,
        "digest_build_s": [round(x, 3) for x in digest_runs],
        "open_s": round(open_s, 3),
        "rss_before_open_mb": round(rss_before, 1),
        "rss_serving_mb": round(serving[0], 1),
        "rss_peak_mb": round(serving[1], 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--runs", type=int, default=200, help="calls of each command")
    parser.add_argument("--scale", type=float, default=1.0, help="shrink every count (smoke runs)")
    parser.add_argument("--startup", type=Path, help="only measure `wavepool run` on this data dir")
    parser.add_argument("--imports", action="store_true", help="only print what start-up spends on imports")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # measure the commands on this data dir
    args = parser.parse_args()
    if args.scale != 1:
        _scale(args.scale)
    data = data_dir(args.dir)
    if args.imports:
        bare = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        print(f"python -c pass: {time.perf_counter() - bare:.2f} s; imports, in order (s):")
        for name, seconds in import_costs().items():
            print(f"  {name:<28}{seconds:6.2f}")
        return 0
    if args.startup:
        with tempfile.TemporaryDirectory() as work:
            print(json.dumps(startup(args.startup, Path(work))))
        return 0
    if args.child:
        with tempfile.TemporaryDirectory() as work:
            print(json.dumps(asyncio.run(_commands(args.child, args.runs, Path(work)))))
        return 0
    if args.rebuild or not complete(data):
        build(data)
    else:
        print(f"reusing {data}")
    # measure on a copy: the commands (shares, votes) change the data, and the cache stays as built
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        copy = Path(work) / "data"
        shutil.copytree(data, copy)
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(copy), "--runs", str(args.runs), "--scale", str(args.scale)],
            capture_output=True,
            text=True,
            env=_env(copy),
            cwd=ROOT,
            check=False,
        )
        if child.returncode != 0:
            print(child.stderr[-3000:])
            return 2
        result = json.loads(child.stdout.strip().splitlines()[-1])
        run = startup(copy, Path(work))
    print(
        f"{TRACKS:,} tracks, {MEMBERS:,} members, {PROMPTS:,} prompts, {TRACK_VOTES:,} track votes, "
        f"{CLOSED_ROUNDS} closed rounds + 1 open ({OPEN_ENTRIES:,} entries, {OPEN_BALLOTS:,} ballots), "
        f"{DIGESTS} digests; {args.runs} calls per command"
    )
    print(f"{'command':<24}{'p50 ms':>9}{'p99 ms':>9}  goal p99 < 50 ms")
    met = True
    for name, (p50, p99) in result["commands"].items():
        ok = p99 < 50
        met = met and ok
        print(f"{name:<24}{p50:9.1f}{p99:9.1f}  {'met' if ok else 'NOT met'}")
    for name, text in result["failures"].items():
        print(f"  ({name} answered with an error: {text!r})")
    digest = statistics.median(result["digest_build_s"])
    print(
        f"weekly digest build: median {digest:.2f} s of {result['digest_build_s']} (goal < 2 s: "
        f"{'met' if digest < 2 else 'NOT met'})"
    )
    print(
        f"wavepool run start-up to healthy: {run['startup_s']:.2f} s (goal < 3 s: "
        f"{'met' if run['startup_s'] < 3 else 'NOT met'})"
    )
    print(
        f"RSS: wavepool run idle {run['rss_idle_mb']:.0f} MB, after 200 HTTP requests {run['rss_served_mb']:.0f} MB "
        f"(peak {run['rss_peak_mb']:.0f}); command process serving {result['rss_serving_mb']:.0f} MB "
        f"(peak {result['rss_peak_mb']:.0f}) (goal < 200 MB)"
    )
    met = met and digest < 2 and run["startup_s"] < 3 and max(run["rss_peak_mb"], result["rss_peak_mb"]) < 200
    print(
        json.dumps(
            {
                "commands": result["commands"],
                "digest_build_s": result["digest_build_s"],
                **run,
                "rss_serving_mb": result["rss_serving_mb"],
                "rss_commands_peak_mb": result["rss_peak_mb"],
            }
        )
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
