"""Curation across a real Synapse: the publish gate with signed boost counts, and remix lineage."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.commands.declaration import Attachment, Command, Invocation, Permission
from core.commands.dispatch import execute
from core.commands.parsing import parse_chat
from core.events.model import EventKind, Origin
from core.model import Declaration, Sharer
from core.replies import Dialect, localize_text
from core.visibility import Viewer
from storage.sqlite.federation_store import SqliteFederationStore
from tests.support.audio import make_mp3
from tests.support.federation import federation_room
from tests.support.homeserver import Homeserver
from tests.support.instances import Running, running
from tests.support.waiting import eventually

pytestmark = pytest.mark.synapse

ALICE = Sharer("matrix", "@alice:localhost", "Alice")
CAROL = Sharer("matrix", "@carol:localhost", "Carol")


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    server = Homeserver.start(tmp_path_factory.mktemp("synapse"))
    yield server
    server.stop()


def _configs(synapse: Homeserver, tmp_path: Path, curation_a: dict[str, object]) -> dict[str, Path]:
    return federation_room(synapse, tmp_path, "ab", lambda name: {"curation": curation_a if name == "a" else {}})[1]


def _command(run: Running, text: str) -> tuple[Command, Invocation]:
    """A member's chat command on an instance."""
    command, args = parse_chat(run.instance.registry, text)
    return command, Invocation(CAROL.platform, CAROL.user_id, CAROL.display_name, "!room:hs", Permission.MEMBER, args)


async def _published_everything(run: Running) -> bool:
    """The federation subscriber handled every event and the outbox is sent."""
    last = await run.instance.events.last_seq()
    done = await run.instance.events.checkpoint("federation")
    pending = await SqliteFederationStore(run.instance.db).outbox_pending(1)
    return done is not None and done >= last and not pending


async def test_publish_gate_holds_an_unboosted_track_and_boosting_past_n_publishes_it(
    synapse: Homeserver, tmp_path: Path
) -> None:
    configs = _configs(synapse, tmp_path, {"publish_gate": "curated", "publish_min_boosts": 2})
    async with running(configs["a"]) as a, running(configs["b"]) as b:
        app_a, app_b = a.instance.app, b.instance.app
        path = make_mp3(tmp_path / "gated.mp3", 3, 7)
        track = (await app_a.share.share_file(path, ALICE, Declaration(generator="suno"), filename=path.name)).track
        await eventually(lambda: _published_everything(a), 30, "A to handle the share")
        store_a = SqliteFederationStore(a.instance.db)
        assert await store_a.manifest(track.id) is None  # held back by the gate: never sent
        assert app_a.curation is not None and app_b.curation is not None
        for n in range(2):
            await app_a.curation.reputation.boost(
                track.id, Sharer("matrix", f"@mod{n}:localhost", "Mod"), moderator=True
            )

        async def arrived() -> bool:
            return await app_b.tracks.get(track.id) is not None

        await eventually(arrived, 60, "the boosted track on B")
        theirs = await SqliteFederationStore(b.instance.db).manifest(track.id)
        assert theirs is not None and theirs["boosts"] == 2
        assert await app_b.curation.store.peer_boosts(track.cid) == 2
        card = await execute(*_command(b, f"track {track.id}"))
        assert ("Boosted", "by 2 curators at its origin") in card.fields
        await app_a.curation.reputation.boost(track.id, Sharer("matrix", "@mod9:localhost", "Mod"), moderator=True)

        async def updated() -> bool:
            assert app_b.curation is not None
            return await app_b.curation.store.peer_boosts(track.cid) == 3

        await eventually(updated, 60, "B to see the signed boost update")


async def test_a_remix_shared_on_b_of_a_track_from_a_is_linked_on_both_and_a_sharer_is_told(
    synapse: Homeserver, tmp_path: Path
) -> None:
    configs = _configs(synapse, tmp_path, {})
    async with running(configs["a"]) as a, running(configs["b"]) as b:
        app_a, app_b = a.instance.app, b.instance.app
        path = make_mp3(tmp_path / "original.mp3", 3, 11)
        original = (await app_a.share.share_file(path, ALICE, Declaration(generator="suno"), filename=path.name)).track

        async def on_b() -> bool:
            return await app_b.tracks.get(original.id) is not None

        await eventually(on_b, 60, "the original on B")
        remix_path = make_mp3(tmp_path / "remix.mp3", 3, 12)
        command, args = parse_chat(
            b.instance.registry, f"share --remix-of {original.id} --relation remix --generator suno"
        )
        invocation = Invocation(
            CAROL.platform,
            CAROL.user_id,
            CAROL.display_name,
            "!room:hs",
            Permission.MEMBER,
            args,
            (Attachment("remix.mp3", remix_path, remix_path.stat().st_size),),
        )
        reply = await execute(command, invocation)
        assert reply.data.get("linked") == 1, reply.text
        remix_id = reply.data["tracks"][0]

        async def on_a() -> bool:
            return await app_a.tracks.get(remix_id) is not None

        await eventually(on_a, 60, "the remix on A")
        assert app_a.curation is not None and app_b.curation is not None
        for app in (app_a, app_b):
            remix = await app.tracks.get(remix_id)
            assert remix is not None and app.curation is not None
            family = await app.curation.lineage.family(remix, Viewer())
            assert family.parent_track is not None and family.parent_track.id == original.id
        told = [
            e
            for e in await a.instance.events.after(0, 1000)
            if e.kind is EventKind.TRACK_REMIXED and e.event.track_id == remix_id
        ]
        assert told and told[0].event.origin is Origin.PEER
        posts = await a.instance.announcements.posts_for(told[0])
        assert posts and "Alice, your track" in localize_text(posts[0].reply.text, Dialect(""))
