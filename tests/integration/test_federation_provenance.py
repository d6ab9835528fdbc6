"""Provenance across the federation on a real Synapse: re-uploads of a peer's track are caught.

Three instances in one federation room. A track shared on A replicates to B and C and is
fingerprinted there (the manifest's fingerprint, checked on a sample). A re-encode shared on
C by another member is a near-duplicate of A's track: it goes to review, and the card says
who shared it first and in which community. A peer (B) that publishes the same sound with a
manifest dated a year earlier does not win: the homeserver's event times settle it.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.federation.replica_fingerprints import ReplicaPrint
from core.model import Declaration, Sharer, TrackId, Verdict
from storage.media.fingerprint import fingerprint
from storage.sqlite.federation_store import SqliteFederationStore
from storage.sqlite.replica_print_store import SqliteReplicaPrintStore
from tests.support.audio import make_mp3
from tests.support.factories import make_track
from tests.support.federation import federation_room
from tests.support.homeserver import Homeserver
from tests.support.instances import Running, running
from tests.support.reencodes import reencode
from tests.support.waiting import eventually

pytestmark = pytest.mark.skipif(
    shutil.which("fpcalc") is None or shutil.which("ffmpeg") is None, reason="ffmpeg and fpcalc are needed"
)

ALICE = Sharer("matrix", "@alice:localhost", "Alice")
BOB = Sharer("matrix", "@bob:localhost", "Bob")
CAROL = Sharer("matrix", "@carol:localhost", "Carol")
MALLORY = Sharer("matrix", "@mallory:localhost", "Mallory")
COMMUNITIES = {"a": "Synthwave Harbour", "b": "Backdate Bay", "c": "Chiptune Cellar"}


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory):
    server = Homeserver.start(tmp_path_factory.mktemp("synapse"))
    yield server
    server.stop()


@pytest.fixture
def configs(synapse: Homeserver, tmp_path: Path) -> dict[str, Path]:
    return federation_room(synapse, tmp_path, "abc", lambda name: {"instance": {"community": COMMUNITIES[name]}})[1]


async def _arrives_fingerprinted(peer: Running, track_id: TrackId) -> ReplicaPrint:
    store = SqliteReplicaPrintStore(peer.instance.db)

    async def settled() -> bool:
        state = await store.state(track_id)
        return state is not None and state is not ReplicaPrint.PENDING

    await eventually(settled, 60, f"track {track_id} fingerprinted on a peer")
    state = await store.state(track_id)
    assert state is not None
    return state


async def test_reencode_of_a_peers_track_is_a_reupload_and_backdating_does_not_win(
    configs: dict[str, Path], tmp_path: Path
) -> None:
    song = make_mp3(tmp_path / "harbour.mp3", 12, 4242)
    async with running(configs["a"]) as a, running(configs["b"]) as b, running(configs["c"]) as c:
        shared = await a.instance.app.share.share_file(
            song, ALICE, Declaration(generator="suno"), filename="harbour.mp3"
        )
        original = shared.track
        assert original.verdict is Verdict.DECLARED
        # replicated to B and C, fingerprinted there from the manifest (checked on a sample)
        assert await _arrives_fingerprinted(b, original.id) is ReplicaPrint.CLAIM_CHECKED
        assert await _arrives_fingerprinted(c, original.id) is ReplicaPrint.CLAIM_CHECKED
        assert await c.instance.app.tracks.fingerprint(original.id) is not None
        a_id = a.instance.identity.instance_id

        # Bob re-encodes Alice's track and shares it on C as his own
        copy = reencode(song, "mp3-96", tmp_path)
        outcome = await c.instance.app.share.share_file(copy, BOB, Declaration(generator="suno"), filename="mine.mp3")
        upload = outcome.track
        assert upload.verdict is Verdict.QUARANTINED, upload.verdict_reason
        near = [e for e in upload.evidence if e.claim == "near-duplicate:other"]
        assert near and near[0].data["track_id"] == original.id
        first = next(e for e in upload.evidence if e.claim == "first-sharer")
        assert first.data["instance"] == a_id and first.data["community"] == COMMUNITIES["a"]
        assert f"first shared by Alice in {COMMUNITIES['a']}" in first.detail

        # B publishes the same sound (another encoding) under a manifest dated a year earlier
        b_copy = reencode(song, "gain-6dB", tmp_path)
        b_app = b.instance.app
        cid, size = await b_app.pool.put_file(b_copy)
        b_print = await fingerprint(b_copy)
        backdated = replace(
            make_track(MALLORY, "Harbour (original!)"),
            cid=cid,
            size=size,
            duration_s=12.0,
            first_seen_at=datetime(2025, 1, 1, tzinfo=UTC),
            origin_instance=b.instance.identity.instance_id,
        )
        await b_app.tracks.add(backdated, fingerprint=b_print)
        await b.parts.federation.runner.replicator.publish_track(backdated)
        b.parts.federation.runner.wake()
        await _arrives_fingerprinted(c, backdated.id)
        times = SqliteFederationStore(c.instance.db)
        a_ts, b_ts = await times.event_time(original.id), await times.event_time(backdated.id)
        assert a_ts is not None and b_ts is not None and a_ts < b_ts

        # Carol shares a third copy on C: A is first by the federation's clock, B's claim is shown as a conflict
        third = reencode(song, "aac-128", tmp_path)
        outcome = await c.instance.app.share.share_file(third, CAROL, Declaration(generator="suno"), filename="h.m4a")
        evidence = outcome.track.evidence
        matched = {e.data["track_id"] for e in evidence if e.claim == "near-duplicate:other"}
        assert {original.id, backdated.id} <= matched
        first = next(e for e in evidence if e.claim == "first-sharer")
        assert first.data["instance"] == a_id, first.detail
        assert any(COMMUNITIES["b"] in conflict for conflict in first.data["conflicts"]), first.data["conflicts"]
        assert outcome.track.verdict is Verdict.QUARANTINED
