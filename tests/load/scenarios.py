"""Load scenarios shared by tests/load (bounded checks) and bench/load.py (the figures).

Each scenario drives a real instance the way members do, at a fixed pace, and returns a
``LoadResult``: how many requests were sent, answered and counted, and the answer times.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bots.federation.part import ROOM_EVENT_LEVELS
from bots.matrix.answers import ANSWERS_FIELD
from bots.runtime import open_instance
from config import load_settings
from core.commands.declaration import Attachment, Invocation, Permission
from core.commands.dispatch import execute
from core.commands.parsing import parse_chat
from core.model import Share, Sharer
from core.voting_model import RoundRules
from tests.support.audio import make_mp3
from tests.support.discord_fake import APP_ID, DiscordFake
from tests.support.factories import make_track
from tests.support.federation import publish_fast
from tests.support.homeserver import Homeserver
from tests.support.instances import Running, running, write_config
from tests.support.waiting import eventually

log = logging.getLogger(__name__)


@dataclass
class LoadResult:
    """What a load run did; ``lost`` and ``twice`` must be 0."""

    name: str
    sent: int
    answered: int
    counted: int
    lost: int
    twice: int
    elapsed_s: float  # from the first request to the last answer
    latencies_s: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def percentile(self, q: float) -> float:
        """The ``q`` quantile of the answer times (nearest rank)."""
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]

    def summary(self) -> dict[str, Any]:
        """The figures, rounded, for docs/RELIABILITY.md."""
        return {
            "scenario": self.name,
            "sent": self.sent,
            "answered": self.answered,
            "counted": self.counted,
            "lost": self.lost,
            "twice": self.twice,
            "elapsed_s": round(self.elapsed_s, 1),
            "p50_s": round(self.percentile(0.50), 3),
            "p99_s": round(self.percentile(0.99), 3),
            "max_s": round(max(self.latencies_s, default=float("nan")), 3),
            **self.extra,
        }


async def paced(count: int, over_s: float, send: Callable[[int], Awaitable[None]]) -> None:
    """Call ``send(i)`` for i < count, evenly spread over ``over_s`` seconds (members arrive, not a burst)."""
    start = time.monotonic()
    for index in range(count):
        due = start + over_s * index / count
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the senders, not waiting for a result
        await send(index)


# -- Discord: the real discord.py client against the fake ---------------------------------


async def discord_votes(fake: DiscordFake, run: Running, members: int, over_s: float) -> LoadResult:
    """``members`` members each send ``/round vote`` once within ``over_s``."""
    voting = run.instance.app.voting
    assert voting is not None
    mod = Sharer("discord", "1", "mod")
    rounds = str(fake.channels["rounds"])  # the round is announced there, as a real one would be
    rnd = await voting.start(RoundRules(theme="Load"), mod, rounds, timedelta(hours=1), timedelta(hours=1))
    for name in ("bob", "carol"):
        user = fake.user(name)
        who = Sharer("discord", user["id"], name)
        track = make_track(who, f"by {name}")
        await run.instance.app.tracks.add(track, Share(track.id, who, track.first_seen_at, "load"))
        await voting.submit(str(rnd.id), track.id, who)
    await voting.close_phase(str(rnd.id), mod)
    sent: dict[str, tuple[str, float, int]] = {}  # member -> (token, sent at, entry)

    async def send(index: int) -> None:
        name = f"member{index}"
        entry = 1 + index % 2
        options = [{"name": "round", "type": 3, "value": str(rnd.id)}, {"name": "entry", "type": 4, "value": entry}]
        payload = fake.interaction("round vote", options, user=name, channel="rounds")
        sent[name] = (str(payload["token"]), time.monotonic(), entry)
        await fake.dispatch("INTERACTION_CREATE", payload)

    start = time.monotonic()
    await paced(members, over_s, send)

    def answers() -> dict[str, list[float]]:
        by_token: dict[str, list[float]] = {}
        prefix = f"/webhooks/{APP_ID}/"
        for r in fake.requests:
            if r.method == "POST" and r.path.startswith(prefix):
                by_token.setdefault(r.path[len(prefix) :].split("/")[0], []).append(r.at)
        return by_token

    async def all_answered() -> bool:
        got = answers()
        return all(token in got for token, _, _ in sent.values())

    await eventually(all_answered, 120 + over_s, "an answer to every member")
    got = answers()
    latencies = [got[token][0] - at for token, at, _ in sent.values()]
    end = max(got[token][0] for token, _, _ in sent.values())
    ballots = await voting.ballots(await voting.get(str(rnd.id)))
    ids = {fake.user(name)["id"]: (name, entry) for name, (_, _, entry) in sent.items()}
    counted = [(ids[b.voter.user_id], b.entry) for b in ballots if b.voter.user_id in ids]
    expected = {(name_entry, name_entry[1]) for name_entry in ids.values()}
    return LoadResult(
        "discord: round votes",
        sent=len(sent),
        answered=sum(1 for token, _, _ in sent.values() if token in got),
        counted=len(counted),
        lost=len(expected - set(counted)),
        twice=sum(len(got[token]) - 1 for token, _, _ in sent.values()) + len(counted) - len(set(counted)),
        elapsed_s=end - start,
        latencies_s=latencies,
    )


# -- Matrix: the bot on a real Synapse ------------------------------------------------------


def _threads(work: Callable[[int], Any], count: int, workers: int = 8) -> list[Any]:
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(work, range(count)))


def matrix_members(hs: Homeserver, room: str, count: int) -> list[tuple[str, str]]:
    """``count`` fresh members joined to ``room``: (user id, token). Simulated members
    (``Homeserver.register_member``) where the homeserver has them, else plain accounts."""
    tag = os.urandom(3).hex()

    def one(index: int) -> tuple[str, str]:
        name = f"{tag}x{index}"
        user, token = hs.register_member(name) if hs.members_token else hs.register(f"m{name}")
        hs.join(token, room)
        return user, token

    return _threads(one, count)


def answers_to(events: list[dict[str, Any]], bot: str, commands: Collection[str]) -> dict[str, list[dict[str, Any]]]:
    """The bot's answers to ``commands`` among ``events``: a reply, or a line of a batched notice."""
    out: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event.get("sender") != bot:
            continue
        content = event.get("content", {})
        target = content.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")
        for answered in [target, *content.get(ANSWERS_FIELD, ())]:
            if answered in commands:
                out.setdefault(answered, []).append(event)
    return out


def room_history(hs: Homeserver, token: str, room: str, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` events of the room, oldest first."""
    events: list[dict[str, Any]] = []
    start: str | None = None
    while len(events) < limit:
        params = {"dir": "b", "limit": "1000"}
        if start:
            params["from"] = start
        page = hs.call("GET", f"/_matrix/client/v3/rooms/{room}/messages", token, params=params)
        chunk = page.get("chunk") or []
        events.extend(chunk)
        start = page.get("end")
        if not chunk or not start:
            break
    return list(reversed(events))


async def matrix_votes(
    hs: Homeserver, run: Running, room: str, bot: str, mod_token: str, members: list[tuple[str, str]], over_s: float
) -> LoadResult:
    """Each member sends ``!wp round vote`` once within ``over_s``; the bot answers each in the room."""
    voting = run.instance.app.voting
    assert voting is not None
    mod = Sharer("matrix", "@mod:localhost", "mod")
    rnd = await voting.start(RoundRules(theme="Load"), mod, room, timedelta(hours=1), timedelta(hours=1))
    for name in ("@bob:localhost", "@carol:localhost"):
        who = Sharer("matrix", name, name)
        track = make_track(who, f"by {name}")
        await run.instance.app.tracks.add(track, Share(track.id, who, track.first_seen_at, room))
        await voting.submit(str(rnd.id), track.id, who)
    await voting.close_phase(str(rnd.id), mod)
    sent: dict[str, tuple[str, int]] = {}  # event id -> (member, entry)
    loop = asyncio.get_running_loop()
    pool = concurrent.futures.ThreadPoolExecutor(8)
    posting: list[asyncio.Future[None]] = []

    async def send(index: int) -> None:
        user, token = members[index]
        entry = 1 + index % 2

        def post() -> None:
            sent[hs.text(token, room, f"!wp round vote {rnd.id} {entry}")] = (user, entry)
            stored.append(time.monotonic())  # Synapse has stored it: how fast members' sends get in
            if len(stored) % 100 == 0:
                log.warning(
                    "%d of %d members' votes stored by Synapse after %.0f s",
                    len(stored),
                    len(members),
                    stored[-1] - began,
                )

        posting.append(loop.run_in_executor(pool, post))  # members type concurrently; their sends overlap

    stored: list[float] = []
    began = time.monotonic()
    await paced(len(members), over_s, send)
    await asyncio.gather(*posting)  # awaited, not joined: the bot shares this event loop
    pool.shutdown(wait=False)
    sends_s = time.monotonic() - began

    def replies() -> dict[str, list[dict[str, Any]]]:
        return answers_to(room_history(hs, mod_token, room, 4 * len(members) + 200), bot, sent)

    async def all_answered() -> bool:
        return len(await asyncio.to_thread(replies)) == len(sent)

    # bounded by what a loaded 2-core machine needs (about a second per answer), not by a goal
    await eventually(all_answered, 120 + over_s + 1.5 * len(members), "the bot's answer to every member")
    got = await asyncio.to_thread(replies)
    history = {
        e["event_id"]: e for e in await asyncio.to_thread(room_history, hs, mod_token, room, 4 * len(members) + 200)
    }
    latencies = [(got[eid][0]["origin_server_ts"] - history[eid]["origin_server_ts"]) / 1000 for eid in sent]
    first = min(history[eid]["origin_server_ts"] for eid in sent)
    last = max(got[eid][0]["origin_server_ts"] for eid in sent)
    ballots = await voting.ballots(await voting.get(str(rnd.id)))
    counted = [(b.voter.user_id, b.entry) for b in ballots]
    expected = set(sent.values())
    return LoadResult(
        "matrix: round votes",
        sent=len(sent),
        answered=len(got),
        counted=len(counted),
        lost=len(expected - set(counted)),
        twice=sum(len(v) - 1 for v in got.values()) + len(counted) - len(set(counted)),
        elapsed_s=(last - first) / 1000,
        latencies_s=latencies,
        extra={
            "members_sends_stored_s": round(sends_s, 1),  # Synapse's share of the elapsed time
            "bot_answer_events": len({e["event_id"] for events in got.values() for e in events}),
        },
    )


# -- shares: the share command with real audio analysis ----------------------------------------


async def shares(tmp: Path, count: int, over_s: float) -> LoadResult:
    """``count`` members share a distinct 3-second MP3 each within ``over_s`` (ffmpeg, fpcalc, SQLite, pool)."""
    files = await asyncio.to_thread(lambda: [make_mp3(tmp / f"share{i}.mp3", 3, 1000 + i) for i in range(count)])
    config = write_config(tmp / "shares.toml", tmp / "shares-data", ingest={"shares_per_window": 1000})
    async with open_instance(load_settings(config, environ={})) as instance:
        latencies: list[float] = []
        failures: list[str] = []
        tasks: list[asyncio.Task[None]] = []

        async def one(index: int) -> None:
            path = files[index]
            command, args = parse_chat(instance.registry, "share")
            attachment = Attachment(path.name, path, path.stat().st_size, "audio/mpeg")
            inv = Invocation(
                "matrix", f"@s{index}:hs", f"S{index}", "!r:hs", Permission.MEMBER, args, attachments=(attachment,)
            )
            began = time.monotonic()
            reply = await execute(command, inv)
            latencies.append(time.monotonic() - began)
            if reply.failed:
                failures.append(reply.text)

        async def send(index: int) -> None:
            tasks.append(asyncio.create_task(one(index)))

        start = time.monotonic()
        await paced(count, over_s, send)
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - start
        stored = await instance.app.tracks.count()
        return LoadResult(
            "shares (real audio)",
            sent=count,
            answered=len(latencies),
            counted=stored,
            lost=count - stored,
            twice=0 if stored <= count else stored - count,
            elapsed_s=elapsed,
            latencies_s=latencies,
            extra={"refused": len(failures), "refusals": sorted(set(failures))[:3]},
        )


# -- federation: many peers publishing at once --------------------------------------------------


async def peers_publishing(hs: Homeserver, tmp: Path, peers: int, each: int) -> LoadResult:
    """``peers`` running instances in one federation room each publish ``each`` tracks at once;
    every instance must end with every other's tracks, each once."""
    _, owner_token = hs.register(f"owner{os.urandom(3).hex()}")
    room = hs.create_room(owner_token, name="wavepool federation", events=ROOM_EVENT_LEVELS)
    configs = []
    for index in range(peers):
        user, token = hs.register(f"p{os.urandom(3).hex()}{index}")
        configs.append(
            write_config(
                tmp / f"p{index}.toml",
                tmp / f"p{index}",
                matrix={"homeserver": hs.url, "user_id": user, "access_token": token},
                federation={"rooms": [room]},
                http={"port": 0},
            )
        )
    stack: list[Any] = []
    runs: list[Running] = []
    try:
        for config in configs:
            manager = running(config)
            runs.append(await manager.__aenter__())
            stack.append(manager)
        start = time.monotonic()
        for index in range(peers):
            (tmp / f"w{index}").mkdir(exist_ok=True)
        published = await asyncio.gather(*(publish_fast(run, each, tmp / f"w{i}") for i, run in enumerate(runs)))
        everything = {track_id for ids in published for track_id in ids}

        async def converged() -> bool:
            for run in runs:
                if await run.instance.app.tracks.count() < len(everything):
                    return False
            return True

        await eventually(converged, 600, "every instance to hold every track")
        elapsed = time.monotonic() - start
        counts = [await run.instance.app.tracks.count() for run in runs]
        missing = 0
        for run in runs:
            for track_id in everything:
                if await run.instance.app.tracks.get(track_id) is None:
                    missing += 1
        return LoadResult(
            f"federation: {peers} peers publishing at once",
            sent=len(everything),
            answered=len(everything),
            counted=sum(counts),
            lost=missing,
            twice=sum(counts) - peers * len(everything),
            elapsed_s=elapsed,
            latencies_s=[elapsed],
            extra={"copies_expected": peers * len(everything)},
        )
    finally:
        for manager in reversed(stack):
            await manager.__aexit__(None, None, None)
