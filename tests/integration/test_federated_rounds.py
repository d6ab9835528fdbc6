"""A cross-community round on a real Synapse: the organiser (``wavepool run`` in a
subprocess, on Matrix, SIGKILLed during voting), a community on both platforms (the
Discord fake and Matrix), a Matrix community that is down at the deadline and comes back
late, and one that never opts in. Entries replicate, members vote on their own
platforms, tallies are exchanged, forged, late and outsider tallies are not counted, and
every participant computes the same results with the per-community breakdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bots.federation.part import ROOM_EVENT_LEVELS
from core.commands.declaration import Invocation, Permission, Reply
from core.commands.dispatch import execute
from core.commands.parsing import parse_chat
from core.events.model import EventKind
from core.federation.event_types import ROUND_EVENT_TYPES, ROUND_TALLY_EVENT
from core.federation.manifest import sign
from core.federation.round_documents import tally_doc
from core.model import Sharer, Track
from core.services.federated_rounds import SETTLE
from storage.identity import load_or_create_identity
from tests.support.audio import make_mp3
from tests.support.discord_fake import APP_ID, GUILD_ID, DiscordFake
from tests.support.factories import make_track
from tests.support.homeserver import Homeserver
from tests.support.instances import Running, eventually, running, write_config

ROOT = Path(__file__).resolve().parents[2]
WINDOW_S = 60  # submission and voting windows (the shortest a round allows)
TALLY_S = 60
THREE_PARTS = ("federation", "scheduler", "matrix")  # a Matrix community
ARMED = "open round(s) armed"  # the scheduler's start-up line


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory):
    server = Homeserver.start(tmp_path_factory.mktemp("synapse-rounds"))
    yield server
    server.stop()


class Organiser:
    """``wavepool run`` in a subprocess on Matrix, and its command line."""

    def __init__(self, hs: Homeserver, tmp: Path, fed_room: str, tag: str) -> None:
        self.hs, self.tmp = hs, tmp
        self.bot, bot_token = hs.register(f"rorg{tag}")
        self.mod, self.mod_token = hs.register(f"rmod{tag}")
        self.carol, self.carol_token = hs.register(f"rcarol{tag}")
        self.music = hs.create_room(self.mod_token, invite=[self.bot], name="music", power={self.bot: 50})
        self.feed = hs.create_room(self.mod_token, invite=[self.bot], name="feed", power={self.bot: 50})
        for room in (self.music, self.feed):
            hs.join(self.carol_token, room)
        self.data = tmp / "org"
        self.config = write_config(
            tmp / "org.toml",
            self.data,
            http={"port": 0},
            matrix={"homeserver": hs.url, "user_id": self.bot, "access_token": bot_token, "watch_rooms": [self.music]},
            genres={"default_matrix_room": self.feed},
            federation={"rooms": [fed_room]},
        )
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        log = self.tmp / "org.log"
        before = log.read_text().count(ARMED) if log.exists() else 0
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots.cli",
            "--config",
            str(self.config),
            "run",
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=open(log, "ab"),  # noqa: SIM115
        )

        async def up() -> bool:  # the scheduler has advanced what was due (a stale socket may remain)
            assert self.proc is not None and self.proc.returncode is None, log.read_text()[-3000:]
            return log.read_text().count(ARMED) > before and (self.data / "control.sock").exists()

        await eventually(up, 90, "the organiser's instance")

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 30)
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()

    async def wavepool(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots.cli",
            "--config",
            str(self.config),
            *args,
            cwd=self.tmp,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, (args, out.decode(), err.decode())
        return out.decode()

    def db(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if not (self.data / "wavepool.sqlite3").exists():
            return []
        with contextlib.closing(sqlite3.connect(self.data / "wavepool.sqlite3", timeout=10)) as conn:
            try:
                return list(conn.execute(sql, params))
            except sqlite3.OperationalError:  # not migrated yet
                return []

    def feed_text(self) -> str:
        events = self.hs.messages(self.mod_token, self.feed, 300)
        return "\n".join(
            str(e["content"].get("body", ""))
            for e in events
            if e["sender"] == self.bot and e["type"] == "m.room.message"
        )


async def _command(
    run: Running,
    text: str,
    platform: str = "matrix",
    user: str = "@mod:x",
    name: str = "Mod",
    moderator: bool = True,
    place: str = "!nowhere:localhost",
) -> Reply:
    """A command as a member (or moderator) of an in-process instance runs it."""
    command, args = parse_chat(run.instance.registry, text)
    permission = Permission.MODERATOR if moderator else Permission.MEMBER
    return await execute(command, Invocation(platform, user, name, place, permission, args))


async def _publish(run: Running, sharer: Sharer, title: str, work: Path) -> Track:
    """A pool track of the member's (random bytes), published to the federation."""
    blob = work / f"{title}.bin"
    blob.write_bytes(os.urandom(3000))
    cid, size = await run.instance.app.pool.put_file(blob)
    blob.unlink()
    track = replace(make_track(sharer, title), cid=cid, size=size, origin_instance=run.instance.identity.instance_id)
    await run.instance.app.tracks.add(track)
    assert run.parts.federation is not None and run.parts.federation.runner is not None
    await run.parts.federation.runner.replicator.publish_track(track)
    run.parts.federation.runner.wake()
    return track


async def _fed_round(run: Running, round_id: str):  # type: ignore[no-untyped-def]
    service = run.instance.app.federated_rounds
    assert service is not None
    return await service.store.get_round(round_id)


def _results_body(text: str) -> str:
    """The ranking and the tallies of a results reply (the part every instance must agree on)."""
    start = text.index("1. ")
    return text[start:].strip()


async def test_a_round_across_three_communities_with_a_crash(
    synapse: Homeserver, fake: DiscordFake, tmp_path: Path
) -> None:
    tag = os.urandom(3).hex()
    owner, owner_token = synapse.register(f"rowner{tag}")
    fed_room = synapse.create_room(owner_token, name="federation", events=ROOM_EVENT_LEVELS)
    org = Organiser(synapse, tmp_path, fed_room, tag)
    configs: dict[str, Path] = {}
    accounts: dict[str, tuple[str, str]] = {}
    music: dict[str, str] = {}  # the Matrix room each chat community watches
    voters: dict[str, tuple[str, str]] = {}  # a Matrix member of two (gina) and of three (frank)
    for name in ("two", "three", "four"):
        accounts[name] = synapse.register(f"r{name}{tag}")
        bot = accounts[name][0]
        matrix: dict[str, Any] = {"homeserver": synapse.url, "user_id": bot, "access_token": accounts[name][1]}
        if name in ("two", "three"):
            music[name] = synapse.create_room(owner_token, invite=[bot], name=f"{name} music", power={bot: 50})
            voters[name] = synapse.register(f"r{'gina' if name == 'two' else 'frank'}{tag}")
            synapse.join(voters[name][1], music[name])
            matrix["watch_rooms"] = [music[name]]
        extra: dict[str, Any] = {}
        if name == "two":  # on both platforms: Discord (the fake) and Matrix
            extra = {
                "discord": {
                    "token": "fake-token",
                    "application_id": APP_ID,
                    "test_guild_id": GUILD_ID,
                    "api_base": fake.base,
                    "watch_channels": [fake.channels["music"]],
                },
                "genres": {"default_discord_channel": fake.channels["rounds"]},
            }
        configs[name] = write_config(
            tmp_path / f"{name}.toml",
            tmp_path / name,
            matrix=matrix,
            federation={"rooms": [fed_room]},
            http={"port": 0},
            **extra,
        )
    await org.start()
    try:
        async with (
            running(configs["two"], ("federation", "scheduler", "discord", "matrix")) as two,
            running(configs["four"], ("federation", "scheduler")) as four,
            contextlib.AsyncExitStack() as three_running,
        ):
            three = await three_running.enter_async_context(running(configs["three"], THREE_PARTS))
            await eventually(lambda: _async(fake.identified.is_set()), 60, "the Discord bot of two")
            # 1. the organiser's member shares a track; a moderator starts an anonymous federated round
            neon = make_mp3(tmp_path / "neon.mp3", 6, 11)
            await org.wavepool("ingest", str(neon), "--by", "alice", "--generator", "suno", "--title", "Neon Drive")
            (alice_track,) = org.db("SELECT id FROM tracks WHERE title = 'Neon Drive'")[0]
            out = await org.wavepool(
                "cmd", "round", "start", "Night drive", "--submit", f"{WINDOW_S}s", "--vote", f"{WINDOW_S}s",
                "--anonymous", "yes", "--federated", fed_room, "--tally", f"{TALLY_S}s",
            )  # fmt: skip
            assert "Announced to the federation" in out, out
            (round_id,) = org.db("SELECT id FROM fr_rounds")[0]
            await org.wavepool("cmd", "--as", "alice", "round", "submit", "1", alice_track)

            # 2. the peers hear of it; nothing appears in their communities until a moderator joins
            for peer in (two, three, four):

                async def invited(peer: Running = peer) -> bool:
                    return await _fed_round(peer, round_id) is not None

                await eventually(invited, 60, "the announcement at every peer")
                assert await peer.instance.app.voting.open_rounds() == []  # type: ignore[union-attr]
            joined = await _command(two, f"round join {round_id}", "discord", place=fake.channels["rounds"])
            assert "joined" in joined.text.lower(), joined.text
            joined = await _command(three, f"round join {round_id}", place=music["three"])
            assert "joined" in joined.text.lower(), joined.text

            # 3. entries from the two other communities: Discord (bob) and Matrix (erin)
            bob = Sharer("discord", fake.user("bob")["id"], "Bob")
            bob_track = await _publish(two, bob, "Tunnel Lights", tmp_path)
            await fake.dispatch(
                "INTERACTION_CREATE",
                fake.interaction(
                    "round submit",
                    [{"name": "round", "type": 3, "value": "1"}, {"name": "track", "type": 3, "value": bob_track.id}],
                    user="bob",
                ),
            )
            erin = Sharer("matrix", "@erin:localhost", "Erin")
            erin_track = await _publish(three, erin, "Glass Harbour", tmp_path)
            reply = await _command(
                three, f"round submit 1 {erin_track.id}", user=erin.user_id, name="Erin", moderator=False
            )
            assert not reply.failed, reply.text

            # every participant lists all three entries before voting opens (here or still arriving)
            async def three_entries(run: Running) -> bool:
                service = run.instance.app.federated_rounds
                fed = await _fed_round(run, round_id)
                return service is not None and fed is not None and len(await service.entries(fed)) == 3

            for run in (two, three):
                await eventually(lambda run=run: three_entries(run), WINDOW_S, "three entries listed")
            status = (await _command(two, f"round federated {round_id}", "discord")).text
            assert status.count("here") + status.count("still arriving") >= 3, status
            fed = await _fed_round(two, round_id)
            assert fed is not None
            assert "alice" not in status.lower() and "erin" not in status.lower()  # anonymous until the results

            # 4. voting opens at the announced time; every participant holds every entry
            async def voting_open() -> bool:
                return datetime.now(UTC) > fed.submit_until

            await eventually(voting_open, WINDOW_S + 30, "voting to open")

            async def entries_here(run: Running, count: int = 3) -> bool:
                voting = run.instance.app.voting
                assert voting is not None
                local = await _fed_round(run, round_id)
                rnd = await voting.get(local.local_round)
                held = [e for e in await voting.entries(rnd) if await run.instance.app.tracks.get(e.track_id)]
                return rnd.phase.value == "voting" and len(held) == count

            for run in (two, three):
                await eventually(lambda run=run: entries_here(run), 60, "every entry replicated and voting open")

            def org_entry(track_id: str) -> int:
                return int(org.db("SELECT number FROM entries WHERE round_id = 1 AND track_id = ?", (track_id,))[0][0])

            async def in_org() -> bool:
                rows = org.db("SELECT r.phase, COUNT(e.number) FROM rounds r JOIN entries e ON e.round_id = r.id")
                return rows == [("voting", 3)]

            await eventually(in_org, 60, "the organiser's round voting with three entries")

            # 5. votes where members live: carol on Matrix (org), dave on Discord and gina on Matrix (two),
            # frank on Matrix (three)
            synapse.text(org.carol_token, org.music, f"!wp round vote 1 {org_entry(bob_track.id)}")
            numbers_two = {
                e.track_id: e.number
                for e in await two.instance.app.voting.entries(await two.instance.app.voting.get(1))  # type: ignore[union-attr]
            }
            for track_id in (alice_track, bob_track.id):  # dave approves two entries
                await fake.dispatch(
                    "INTERACTION_CREATE",
                    fake.interaction(
                        "round vote",
                        [
                            {"name": "round", "type": 3, "value": "1"},
                            {"name": "entry", "type": 4, "value": numbers_two[track_id]},
                        ],
                        user="dave",
                    ),
                )
            numbers_three = {
                e.track_id: e.number
                for e in await three.instance.app.voting.entries(await three.instance.app.voting.get(1))  # type: ignore[union-attr]
            }
            for name, number in (("two", numbers_two[bob_track.id]), ("three", numbers_three[bob_track.id])):
                await eventually(
                    lambda name=name: _async(_joined(synapse, owner_token, music[name], accounts[name][0])),
                    60,
                    f"{name}'s Matrix bot in its room",
                )
                synapse.text(voters[name][1], music[name], f"!wp round vote 1 {number}")  # gina, frank

            async def ballot_at_org() -> bool:
                return len(org.db("SELECT 1 FROM ballots WHERE round_id = 1")) == 1

            async def ballot_at_two() -> bool:
                return len(await two.instance.app.voting.ballots(await two.instance.app.voting.get(1))) == 3  # type: ignore[union-attr]

            await eventually(ballot_at_org, 60, "carol's Matrix vote")
            await eventually(ballot_at_two, 60, "dave's Discord votes and gina's Matrix vote")

            async def ballot_at_three() -> bool:
                return len(await three.instance.app.voting.ballots(await three.instance.app.voting.get(1))) == 1  # type: ignore[union-attr]

            await eventually(ballot_at_three, 60, "frank's Matrix vote")

            # 6. an outsider's tally (four never opted in), a forged one (four's key, two's name) and
            # one in two's name sent by two's account but signed with another key
            runner = four.parts.federation.runner  # type: ignore[union-attr]
            assert runner is not None
            flood = {"round": round_id, "voters": 400, "active_members": 400}
            flood["counts"] = [{"cid": erin_track.cid, "voters": 400, "total": 400}]
            now = datetime.now(UTC)
            for origin, name in (
                (four.instance.identity.instance_id, "four"),
                (two.instance.identity.instance_id, "two"),
            ):
                doc = sign(tally_doc(origin, name, flood, now), four.instance.identity)
                await runner.api.send(runner.transport.rooms[0], ROUND_TALLY_EVENT, doc)
            stranger = load_or_create_identity(tmp_path / "stranger")
            doc = sign(tally_doc(two.instance.identity.instance_id, "two", flood, now), stranger)
            two_runner = two.parts.federation.runner  # type: ignore[union-attr]
            assert two_runner is not None
            await two_runner.api.send(two_runner.transport.rooms[0], ROUND_TALLY_EVENT, doc)

            # three goes down before the voting deadline (it comes back after the tally deadline)
            await three_running.aclose()

            # 7. the organiser is SIGKILLed during voting and comes back after the deadline
            assert datetime.now(UTC) < fed.vote_until, "the test ran too slowly to kill during voting"
            await org.kill()

            async def voting_over() -> bool:
                return datetime.now(UTC) > fed.vote_until + (fed.tally_until - fed.vote_until) / 6

            await eventually(voting_over, WINDOW_S + 30, "the voting deadline to pass")
            await org.start()

            # 8. the organiser and two post the results once the tally deadline has passed
            async def posted(run: Running) -> bool:
                found = await _fed_round(run, round_id)
                return found is not None and found.results_at is not None

            await eventually(lambda: posted(two), TALLY_S + 60, "two's results")

            async def org_posted() -> bool:
                return bool(org.db("SELECT 1 FROM fr_rounds WHERE results_at IS NOT NULL"))

            await eventually(org_posted, TALLY_S + 60, "the organiser's results")

            async def said_no_tally() -> bool:
                return "three: no tally" in org.feed_text()

            await eventually(said_no_tally, 60, "the organiser's results post on Matrix naming the missing tally")

            # 9. three comes back after the tally deadline: its tally goes out marked late, is not
            # counted, and it posts the same results
            async def past_tally_deadline() -> bool:
                return datetime.now(UTC) > fed.tally_until + SETTLE

            await eventually(past_tally_deadline, TALLY_S + 60, "the tally deadline to pass")
            three = await three_running.enter_async_context(running(configs["three"], THREE_PARTS))
            await eventually(lambda: posted(three), 60, "three's results")
            service = three.instance.app.federated_rounds
            assert service is not None
            own = [
                t for t in await service.store.tallies(round_id) if t.instance == three.instance.identity.instance_id
            ]
            assert own and own[0].late_marked

            async def late_everywhere() -> bool:
                two_text = (await _command(two, f"round federated {round_id}", "discord")).text
                org_text = await org.wavepool("cmd", "round", "federated", round_id)
                return "three: late" in two_text and "three: late" in org_text

            await eventually(late_everywhere, 60, "three's late tally read by the others")
            texts = {
                "two": (await _command(two, f"round federated {round_id}", "discord")).text,
                "three": (await _command(three, f"round federated {round_id}")).text,
                "org": await org.wavepool("cmd", "round", "federated", round_id),
            }
            body = _results_body(texts["two"])
            assert _results_body(texts["three"]) == body
            assert body in texts["org"].replace("\r", ""), (texts["org"], body)
            lines = body.splitlines()
            assert lines[0].startswith("1. Tunnel Lights by Bob — 3 (org 1, two 2)"), body  # names revealed now
            assert lines[1].startswith("2. Neon Drive by alice — 1 (two 1)"), body
            assert lines[2].startswith("3. Glass Harbour by Erin — 0"), body
            for words in ("org: 1 voter", "two: 2 voter", "three: late", "four: not opted in", "two: forged"):
                assert words in body, (words, body)
            assert body.count("two: forged") == 2 and "400" not in body, body  # the floods counted nowhere
            # posted on each platform, and nothing at the instance that did not join
            assert "Results of the cross-community round" in org.feed_text()

            async def on_discord() -> bool:
                return any(
                    "Results of the cross-community round" in (e.get("title") or "")
                    for m in fake.messages.get(fake.channels["rounds"], [])
                    for e in m.get("embeds") or []
                )

            await eventually(on_discord, 60, "the results on Discord")
            kinds = [e.kind for e in await four.instance.events.after(0, 1000)]
            assert EventKind.FEDERATED_ROUND_RESULTS not in kinds and EventKind.ROUND_STARTED not in kinds
            # the anonymous round named nobody in the federation room's round events
            wire = json.dumps(
                [e for e in synapse.messages(owner_token, fed_room, 500) if e["type"] in ROUND_EVENT_TYPES]
            )
            assert "alice" not in wire and "Bob" not in wire and "Erin" not in wire
    finally:
        await org.stop()


async def _async(value: bool) -> bool:
    return value


def _joined(hs: Homeserver, token: str, room: str, user: str) -> bool:
    """Whether ``user`` has joined ``room`` (its bot reads the room from then on)."""
    return any(
        e["type"] == "m.room.member" and e.get("state_key") == user and e["content"].get("membership") == "join"
        for e in hs.messages(token, room, 100)
    )
