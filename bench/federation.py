"""Federation benchmark: replication throughput vs a plain media download, and propagation latency.

    .venv/bin/python bench/federation.py [--tracks 200] [--mb 1.0]

Starts a Synapse on 127.0.0.1 (from the test support code) and in-process instances.
1. Instance A publishes ``--tracks`` tracks of ``--mb`` MB (its uploads are done before
   timing). Then B starts, and the time until B holds every blob (sync, history, signature
   checks, policy, fetch, CID verification, durable store, track records) is compared with
   downloading the same mxc URIs straight from the homeserver's media API with aiohttp
   (8 concurrent requests) in the same run, once into files (as `curl -o` would: the
   goal's baseline, ratio >= 0.7) and once with the bytes discarded (the network ceiling).
   Three rounds, each a fresh B; medians.
2. Propagation latency of one track from A to 2 and to 5 running peers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bots.federation.matrix_api import MatrixApi  # noqa: E402
from bots.federation.part import ROOM_EVENT_LEVELS  # noqa: E402
from bots.federation.room_reader import RoomReader  # noqa: E402
from core.federation.replication import Replicator  # noqa: E402
from core.model import TrackId  # noqa: E402
from storage.sqlite.federation_store import SqliteFederationStore  # noqa: E402
from tests.support.factories import make_track, member  # noqa: E402
from tests.support.federation import publish_fast  # noqa: E402
from tests.support.homeserver import Homeserver  # noqa: E402
from tests.support.instances import Running, eventually, running, write_config  # noqa: E402


def _cpu(hs: Homeserver) -> tuple[float, float]:
    """CPU seconds so far of this process and of the homeserver (for where-the-time-goes)."""
    ours = os.times()
    theirs = 0.0
    if hs.process is not None:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{hs.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            theirs = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return ours.user + ours.system, theirs


def _show_cpu(label: str, hs: Homeserver, before: tuple[float, float], seconds: float) -> None:
    if os.environ.get("FED_TIMELINE"):
        after = _cpu(hs)
        print(
            f"  {label}: {seconds:.2f} s wall, CPU ours {after[0] - before[0]:.2f} s, homeserver {after[1] - before[1]:.2f} s"
        )


_CALLS: list[tuple[float, float, str, str]] = []  # (start, end, user, what): FED_TIMELINE's homeserver calls


def _trace_calls() -> None:
    """Record every JSON call of the federation's Matrix client (FED_TIMELINE=1 prints B's)."""
    real = MatrixApi.request

    async def traced(self: MatrixApi, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await real(self, method, path, *args, **kwargs)
        finally:
            what = f"{method} {path.split('/_matrix/client/v3/')[-1].split('?')[0][:60]}"
            _CALLS.append((started, time.perf_counter(), self.user_id, what))

    MatrixApi.request = traced  # type: ignore[method-assign]
    real_upload, real_download = MatrixApi.upload, MatrixApi.download

    async def upload(self: MatrixApi, *args: Any, **kwargs: Any) -> str:
        started = time.perf_counter()
        try:
            return await real_upload(self, *args, **kwargs)
        finally:
            _CALLS.append((started, time.perf_counter(), self.user_id, "upload"))

    async def download(self: MatrixApi, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            async for piece in real_download(self, *args, **kwargs):
                yield piece
        finally:
            _CALLS.append((started, time.perf_counter(), self.user_id, "download"))

    MatrixApi.upload = upload  # type: ignore[method-assign]
    MatrixApi.download = download  # type: ignore[method-assign]
    # The steps of an instance between its sync's answer and the track's record, by its user.
    _trace_step(RoomReader, "handle_rooms", "handle the sync's events", lambda r: r._api.user_id)
    _trace_step(Replicator, "run_queue", "run the fetch queue", lambda r: r.user_id)
    _trace_step(Replicator, "_fetch", "fetch, verify and store the blob", lambda r: r.user_id)
    _trace_step(Replicator, "_record_fetched", "record the track", lambda r: r.user_id)


def _trace_step(cls: Any, name: str, label: str, user_of: Any) -> None:
    real = getattr(cls, name)

    async def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await real(self, *args, **kwargs)
        finally:
            _CALLS.append((started, time.perf_counter(), user_of(self), label))

    setattr(cls, name, traced)


_STEPS: list[dict[str, float]] = []  # FED_TIMELINE: one propagation's steps (ms since the clock started)


def _propagation_steps(origin_user: str, started: float, published: float, done: float) -> dict[str, float]:
    """The steps of one propagation from the traced calls: when each ended, first and last peer."""
    calls = [(b - started, e - started, u, w) for b, e, u, w in _CALLS if e >= started and b <= done]
    send_end = max(e for b, e, u, w in calls if u == origin_user and w.startswith("PUT rooms/"))
    peers = {u for b, e, u, w in calls if u != origin_user}

    def per_peer(what: str, pick: str = "end") -> list[float]:
        out = []
        for peer in peers:
            mine = [(b, e) for b, e, u, w in calls if u == peer and w.startswith(what) and e >= send_end - 0.0005]
            if mine:
                b, e = min(mine, key=lambda c: c[1])
                out.append(b if pick == "start" else e)
        return out

    steps = {
        "stored": published - started,
        "upload": max(e for b, e, u, w in calls if u == origin_user and w == "upload"),
        "sent": send_end,
    }
    for label, what, pick in (
        ("sync back", "GET sync", "end"),
        ("handled", "handle the sync", "end"),
        ("download from", "download", "start"),
        ("downloaded", "download", "end"),
        ("blob stored", "fetch, verify", "end"),
        ("recorded", "record the track", "end"),
    ):
        times = per_peer(what, pick)
        if times:
            steps[f"{label} first"] = min(times)
            steps[f"{label} last"] = max(times)
    return {k: v * 1000 for k, v in steps.items()}


def _show_steps() -> None:
    """The median of each step over the propagations measured (FED_TIMELINE)."""
    if not _STEPS:
        return
    print(f"  steps, median of {len(_STEPS)} propagations (ms since the clock started; first and last peer):")
    for key in _STEPS[0]:
        values = [s[key] for s in _STEPS if key in s]
        print(f"    {key:22} {statistics.median(values):6.1f}  (range {min(values):5.1f}-{max(values):5.1f})")


def _show_calls(user_prefix: str, started: float, skip_downloads: bool = True) -> None:
    """The homeserver calls of the users named ``user_prefix...`` since ``started``, in start order."""
    for begin, end, user, what in sorted(_CALLS):
        if not user.startswith(f"@{user_prefix}") or (what == "download" and skip_downloads):
            continue
        if begin >= started:
            print(f"    {begin - started:6.3f}-{end - started:6.3f} s  {user.split(':')[0][1:]:12} {what}")
        elif end >= started:  # a long-poll sync begun before the clock: when it returned is what counts
            print(f"    (before)-{end - started:6.3f} s  {user.split(':')[0][1:]:12} {what}")


async def _plain_download(hs: Homeserver, token: str, mxcs: list[str], save_to: Path | None = None) -> float:
    """Seconds to download every mxc URI, 8 at a time; into files when ``save_to`` is given."""
    gate = asyncio.Semaphore(8)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def one(mxc: str) -> None:
            server, media = mxc[len("mxc://") :].split("/", 1)
            async with gate, session.get(f"{hs.url}/_matrix/client/v1/media/download/{server}/{media}") as r:
                if save_to is None:
                    async for _ in r.content.iter_chunked(262144):
                        pass
                    return
                with (save_to / media).open("wb") as out:  # like `curl -o`: written, not fsynced
                    async for chunk in r.content.iter_chunked(262144):
                        out.write(chunk)

        started = time.perf_counter()
        await asyncio.gather(*(one(m) for m in mxcs))
        return time.perf_counter() - started


async def throughput(
    hs: Homeserver, work: Path, tracks: int, size: int, rounds: int = 3, profile: Path | None = None
) -> tuple[list[float], list[float], list[float]]:
    """Per round: download discarded, download into files, replication to a new B.

    The three measurements alternate within each round, so they share the machine's noise.
    With ``profile``, the replications run under cProfile and the stats are written there.
    """
    profiler = cProfile.Profile() if profile is not None else None
    _owner, owner_token = hs.register(f"owner{os.urandom(3).hex()}")
    room = hs.create_room(owner_token, events=ROOM_EVENT_LEVELS)

    def instance_config(name: str) -> Path:
        user, token = hs.register(f"{name}{os.urandom(3).hex()}")
        return write_config(
            work / f"{name}.toml",
            work / name,
            instance={"log_level": "WARNING"},
            matrix={"homeserver": hs.url, "user_id": user, "access_token": token},
            federation={"rooms": [room]},
        )

    plain: list[float] = []
    to_files: list[float] = []
    replicated: list[float] = []
    async with running(instance_config("a")) as a:
        await publish_fast(a, tracks, work, size)
        store = SqliteFederationStore(a.instance.db)

        async def drained() -> bool:
            return not await store.outbox_pending(1)

        await eventually(drained, 600, "A's uploads")
        rows = await a.instance.db.fetchall("SELECT manifest FROM fed_manifests")
        mxcs = [json.loads(r[0])["sources"][0]["mxc"] for r in rows]
        for attempt in range(rounds):
            plain.append(await _plain_download(hs, owner_token, mxcs))
            folder = work / f"plain{attempt}"
            folder.mkdir()
            before = _cpu(hs)
            to_files.append(await _plain_download(hs, owner_token, mxcs, folder))
            _show_cpu("download into files", hs, before, to_files[-1])
            # B's account exists before its instance starts, as an operator's would: registering
            # it (an admin call, ~0.07 s) is not part of replicating.
            b_config = instance_config(f"b{attempt}")
            before = _cpu(hs)
            started = time.perf_counter()
            first_at: list[float] = []
            shown = [-1]  # the last count FED_TIMELINE printed
            if profiler is not None:
                profiler.enable()
            async with running(b_config) as b:

                async def complete(b=b, first_at=first_at, started=started, shown=shown) -> bool:  # type: ignore[no-untyped-def]
                    count = await b.instance.app.tracks.count()
                    if os.environ.get("FED_TIMELINE") and count != shown[-1]:
                        shown.append(count)
                        queued = await b.instance.db.fetchone("SELECT count(*) FROM fed_queue")
                        print(f"  {time.perf_counter() - started:5.2f} s: {count} tracks, {queued[0]} in the queue")
                    if count and not first_at:
                        first_at.append(time.perf_counter() - started)
                    return count >= tracks

                # polled every 10 ms (the default 100 ms added ~50 ms to each figure on average)
                await eventually(complete, 600, "B to replicate everything", poll_s=0.01)
                replicated.append(time.perf_counter() - started)
                _show_cpu("replication", hs, before, replicated[-1])
                if os.environ.get("FED_TIMELINE"):
                    _show_calls(f"b{attempt}", started)
                print(f"round {attempt}: first track after {first_at[0]:.2f} s, all after {replicated[-1]:.2f} s")
            if profiler is not None:
                profiler.disable()
    if profiler is not None and profile is not None:
        profiler.dump_stats(str(profile))
    return plain, to_files, replicated


async def _publish_file(run: Running, blob: Path) -> str:
    """Store, record and queue for publishing one file as the instance's track (``publish_fast``'s steps)."""
    app, runner = run.instance.app, run.parts.federation.runner
    assert runner is not None
    cid, stored = await app.pool.put_file(blob)
    track = replace(
        make_track(member("alice"), "Propagated"),
        cid=cid,
        size=stored,
        origin_instance=run.instance.identity.instance_id,
    )
    await app.tracks.add(track)
    await runner.replicator.publish_track(track)
    runner.wake()
    return str(track.id)


def _note_records(run: Running, index: int, arrivals: dict[int, float], peers: int, done: asyncio.Event) -> None:
    """Note when the peer's recording of a fetched batch commits (no polling of the measured process).

    ``_record_fetched`` returns once the batch's transaction is committed: the blob's name is
    durable and the track row is there. Polling five databases every 5 ms instead cost the
    measured process ~1,000 database trips a second and up to 5 ms of quantisation."""
    runner = run.parts.federation.runner
    assert runner is not None
    replicator = runner.replicator
    real = replicator._record_fetched

    async def recorded(fetched: list[Any]) -> int:
        count = await real(fetched)
        if count and index not in arrivals:
            arrivals[index] = time.perf_counter()
            if len(arrivals) == peers:
                done.set()
        return count

    replicator._record_fetched = recorded  # type: ignore[method-assign]


async def latency(hs: Homeserver, work: Path, peers: int, profiler: cProfile.Profile | None = None) -> float:
    """Seconds from the origin's publish of one 1 MB track until every peer has its blob and record."""
    _owner, owner_token = hs.register(f"owner{os.urandom(3).hex()}")
    room = hs.create_room(owner_token, events=ROOM_EVENT_LEVELS)
    configs = []
    tag = os.urandom(3).hex()  # a fresh set of instances each call
    for index in range(peers + 1):
        user, token = hs.register(f"p{index}x{tag}")
        configs.append(
            write_config(
                work / f"lat{peers}-{tag}-{index}.toml",
                work / f"lat{peers}-{tag}-{index}",
                instance={"log_level": "WARNING"},
                matrix={"homeserver": hs.url, "user_id": user, "access_token": token},
                federation={"rooms": [room]},
            )
        )
    async with contextlib.AsyncExitStack() as stack:
        runs = [await stack.enter_async_context(running(c)) for c in configs]
        origin, others = runs[0], runs[1:]
        # Propagation between running instances: each has read the room (its first sync and the
        # history behind it are done, its sync token saved) and knows every other one's key. The
        # last to start was otherwise still paging the history while the clock ran.
        ids = [run.instance.identity.instance_id for run in runs]
        for run in runs:
            run_store = SqliteFederationStore(run.instance.db)

            async def settled(run=run, run_store=run_store) -> bool:  # type: ignore[no-untyped-def]
                if not await run.instance.state.get("federation", "since"):
                    return False
                others_known = [
                    await run_store.peer_by_instance(i) for i in ids if i != run.instance.identity.instance_id
                ]
                return all(p is not None for p in others_known)

            await eventually(settled, 60, "every instance to read the room and know the others")
            # A pool counts its bytes once per process, at its first quota check; a running
            # instance paid that long ago, a peer started for this round would pay it in the window.
            await run.instance.app.pool.total_bytes()
        # The member's file exists before the clock starts (a share stores a file already
        # received); its bytes are made and written out here, not inside the measurement.
        blob = work / f"lat-{tag}.bin"
        blob.write_bytes(os.urandom(1_000_000))
        with blob.open("rb") as handle:
            os.fsync(handle.fileno())
        recorded_at: dict[int, float] = {}
        everywhere = asyncio.Event()
        for index, peer in enumerate(others):
            _note_records(peer, index, recorded_at, len(others), everywhere)
        if profiler is not None:
            profiler.enable()
        started = time.perf_counter()
        track_id = await _publish_file(origin, blob)
        published = time.perf_counter() - started
        await asyncio.wait_for(everywhere.wait(), 120)
        if profiler is not None:
            profiler.disable()
        took = max(recorded_at.values()) - started
        arrived = {index: at - started for index, at in recorded_at.items()}
        for peer in others:  # what the clock stopped on is there: the track's record on every peer
            assert await peer.instance.app.tracks.get(TrackId(track_id)) is not None
        blob.unlink()
        if os.environ.get("FED_TIMELINE"):
            print(f"  origin: stored, recorded and queued after {published * 1000:.0f} ms")
            print("  arrivals (ms):", ", ".join(f"p{i + 1} {arrived[i] * 1000:.0f}" for i in sorted(arrived)))
            _show_calls("p", started, skip_downloads=False)
            origin_user = origin.parts.federation.runner.api.user_id  # type: ignore[union-attr]
            _STEPS.append(_propagation_steps(origin_user, started, started + published, started + took))
            print("  steps:", ", ".join(f"{k} {v:.0f}" for k, v in _STEPS[-1].items()))
        return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=200)
    parser.add_argument("--mb", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--profile",
        type=Path,
        help="cProfile the replications (or, with --only-latency, the propagations) into this file",
    )
    parser.add_argument("--no-latency", action="store_true", help="skip the propagation measurement")
    parser.add_argument("--only-latency", action="store_true", help="only propagation to 5 peers, --rounds times")
    args = parser.parse_args()
    if os.environ.get("FED_TIMELINE"):
        _trace_calls()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        hs = Homeserver.start(work / "synapse", max_upload="50M")
        try:
            if args.only_latency:
                profiler = cProfile.Profile() if args.profile is not None else None
                for _ in range(args.rounds):
                    print(f"to 5 peers: {asyncio.run(latency(hs, work, 5, profiler)) * 1000:.0f} ms")
                if profiler is not None:
                    profiler.dump_stats(str(args.profile))
                _show_steps()
                return 0
            plains, filed, replications = asyncio.run(
                throughput(hs, work, args.tracks, int(args.mb * 1_000_000), args.rounds, args.profile)
            )
            two: float | None = None
            five: float | None = None
            if not args.no_latency:
                two = asyncio.run(latency(hs, work, 2))
                five = asyncio.run(latency(hs, work, 5))
        finally:
            hs.stop()
    plain, to_files, replicated = (statistics.median(x) for x in (plains, filed, replications))
    total = args.tracks * args.mb
    ratio = to_files / replicated
    rounds = [f / r for f, r in zip(filed, replications, strict=True)]
    print(f"{args.tracks} tracks x {args.mb:g} MB = {total:.0f} MB")
    print(f"plain media download, bytes discarded:  {plain:6.2f} s  ({total / plain:7.1f} MB/s)")
    print(f"plain media download into files:        {to_files:6.2f} s  ({total / to_files:7.1f} MB/s)")
    print(f"replication to a new instance:          {replicated:6.2f} s  ({total / replicated:7.1f} MB/s)")
    print(f"ratio replication / download into files: {ratio:.2f} (goal >= 0.7: {'met' if ratio >= 0.7 else 'NOT met'})")
    print(f"  per round: {', '.join(f'{r:.2f}' for r in rounds)}; load average {os.getloadavg()[0]:.1f}")
    print(f"ratio replication / download discarded:  {plain / replicated:.2f}")
    if two is not None and five is not None:
        print(f"propagation of one 1 MB track: to 2 peers {two * 1000:.0f} ms, to 5 peers {five * 1000:.0f} ms")
    return 0 if ratio >= 0.7 else 1


if __name__ == "__main__":
    raise SystemExit(main())
