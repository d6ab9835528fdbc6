"""Recommendation quality and latency on a synthetic community with planted taste groups.

    .venv/bin/python bench/recommend.py [--members 10000] [--tracks 100000] [--votes 1000000]
                                        [--groups 50] [--eval 1000] [--seed 7]

Builds (seeded) ``--members`` members in ``--groups`` taste groups and ``--tracks`` tracks,
each track belonging to one group's taste (independent of its genre, so the genre does
not give the taste away). Each member casts ``votes/members`` votes, 75 % on their
group's tracks and 25 % anywhere, both drawn by a Zipf-like popularity (weight
1/rank^0.8), in time order; each track gets a random sharer, genre and prompt words.
The last 10 % of each member's votes are held out. The curation index
(``core.curation_index``) is built from the rest, then for ``--eval`` members:

* ``discover`` (``core.recommend.discover``): the top 10, excluding what they voted on;
* the baseline: the 10 most voted tracks of the pool they have not voted on.

Prints precision@10 and recall@10 against the held-out votes for both, the ratio, and
p50/p95/p99 latency of ``discover``, ``similar`` and a member's ``reputation`` (the whole call, including an
``allowed`` check like the service's), wall-clock and, for ``discover``, the CPU time of
the thread (what the query itself costs when other processes share the cores). Exit
status 1 unless the ratio >= 2 and discover's CPU p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.curation_build import IndexBuilder  # noqa: E402
from core.curation_index import CurationIndex  # noqa: E402
from core.curation_ports import TrackFact, VoteFact  # noqa: E402
from core.model import TrackId  # noqa: E402
from core.recommend import discover, similar  # noqa: E402
from core.reputation_model import reputation  # noqa: E402

GENRES = "synthwave lofi ambient techno house trance drill jazz soul metal folk kpop".split()
WORDS = [f"w{n}" for n in range(3000)]
START = datetime(2026, 1, 1, tzinfo=UTC)
NOW = START + timedelta(days=30)


def build(args: argparse.Namespace) -> tuple[CurationIndex, dict[int, list[int]], list[int]]:
    """The index of the training votes, the held-out votes per member, and the members."""
    rng = random.Random(args.seed)
    group_tracks: list[list[int]] = [[] for _ in range(args.groups)]
    for t in range(args.tracks):
        group_tracks[rng.randrange(args.groups)].append(t)
    weights_cache: dict[int, list[float]] = {}

    def cumulative(n: int) -> list[float]:
        if n not in weights_cache:
            weights_cache[n] = list(itertools.accumulate(1.0 / (r + 1) ** 0.8 for r in range(n)))
        return weights_cache[n]

    def draw(pool: list[int]) -> int:
        cum = cumulative(len(pool))
        return pool[bisect.bisect_left(cum, rng.random() * cum[-1])]

    everything = list(range(args.tracks))
    rng.shuffle(everything)
    builder = IndexBuilder()
    members = [("bench", f"m{m}") for m in range(args.members)]
    tracks = [TrackId(f"t{t}") for t in range(args.tracks)]
    facts = []
    for t in range(args.tracks):
        words = " ".join(rng.sample(WORDS, 8))
        facts.append(TrackFact(tracks[t], members[rng.randrange(args.members)], rng.choice(GENRES), words, START))
    builder.add_tracks(facts)
    per_member = args.votes // args.members
    held: dict[int, list[int]] = {}
    likes: list[VoteFact] = []
    for m in range(args.members):
        group = m % args.groups
        chosen: list[int] = []
        seen: set[int] = set()
        while len(chosen) < per_member:
            t = draw(group_tracks[group]) if rng.random() < 0.75 else draw(everything)
            if t not in seen:
                seen.add(t)
                chosen.append(t)
        cut = per_member - per_member // 10
        held[m] = chosen[cut:]
        for k, t in enumerate(chosen[:cut]):
            likes.append(VoteFact(tracks[t], members[m], START + timedelta(minutes=k)))
    likes.sort(key=lambda f: f.at)
    builder.add_likes(likes)
    del likes
    return builder.finish(), held, list(range(args.members))


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--eval", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    began = time.perf_counter()
    index, held, members = build(args)
    built = time.perf_counter() - began
    print(
        f"built {index.track_count:,} tracks, {index.like_count:,} training likes in {built:.1f} s;"
        f" process RSS {_rss_mb():.0f} MB"
    )
    rng = random.Random(args.seed + 1)
    sample = rng.sample(members, min(args.eval, len(members)))
    popular = index.popular()
    hits_cf = hits_pop = relevant = 0
    discover_ms: list[float] = []
    discover_cpu_ms: list[float] = []
    similar_ms: list[float] = []
    reputation_cpu_ms: list[float] = []
    for m in sample:
        ix = index.find_member(("bench", f"m{m}"))
        assert ix is not None
        mine = set(index.liked(ix))
        truth = {index.find_track(TrackId(f"t{t}")) for t in held[m]}

        def allowed(t: int, mine: set[int] = mine) -> bool:
            return t not in mine  # the service also asks storage and the visibility rule

        start, cpu = time.perf_counter(), time.thread_time()
        picks = discover(index, ix, allowed, 10)
        discover_ms.append((time.perf_counter() - start) * 1000)
        discover_cpu_ms.append((time.thread_time() - cpu) * 1000)
        baseline = [t for t in itertools.islice((t for t in popular if t not in mine), 10)]
        hits_cf += len({p.track for p in picks} & truth)
        hits_pop += len(set(baseline) & truth)
        relevant += len(truth)
        cpu = time.thread_time()
        reputation(index, ix, NOW)
        reputation_cpu_ms.append((time.thread_time() - cpu) * 1000)
        source = index.liked(ix)[-1]
        start = time.perf_counter()
        similar(index, source, allowed, 10)
        similar_ms.append((time.perf_counter() - start) * 1000)
    n = len(sample)
    p_cf, p_pop = hits_cf / (10 * n), hits_pop / (10 * n)
    r_cf, r_pop = hits_cf / relevant, hits_pop / relevant
    ratio = p_cf / p_pop if p_pop else float("inf")
    print(f"members evaluated: {n}, held-out votes: {relevant}")
    print(f"discover   precision@10 {p_cf:.4f}  recall@10 {r_cf:.4f}")
    print(f"popular    precision@10 {p_pop:.4f}  recall@10 {r_pop:.4f}")
    print(f"ratio (precision) {ratio:.2f}x")
    for name, values in (
        ("discover", discover_ms),
        ("discover cpu", discover_cpu_ms),
        ("similar", similar_ms),
        ("reputation cpu", reputation_cpu_ms),
    ):
        print(
            f"{name:<14} p50 {statistics.median(values):.2f} ms  p95 {percentile(values, 0.95):.2f} ms"
            f"  p99 {percentile(values, 0.99):.2f} ms"
        )
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    # wall-clock p99 on a machine shared with other jobs measures the queue for the CPU; the CPU
    # time this thread spent is the query's own cost
    ok = ratio >= 2 and percentile(discover_cpu_ms, 0.99) < 50
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
