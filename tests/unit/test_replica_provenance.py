"""Replicated tracks' fingerprints: carried in the manifest, checked on a sample, indexed; first-sharer evidence."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.clock import ManualClock
from core.federation.manifest import (
    MANIFEST_FINGERPRINT_ITEMS,
    check_signature,
    fingerprint_from_manifest,
    manifest_for,
    sign,
)
from core.federation.replica_fingerprints import ReplicaFingerprints, ReplicaPrint
from core.model import Cid, Fingerprint, InstanceId, TrackId, TrackStatus
from core.services.first_sharer import SharerClaim, first_sharer_evidence, settle_first_sharer
from storage.identity import load_or_create_identity, verify_signature
from storage.memory import MemoryTrackRepository
from storage.sqlite.database import Database
from storage.sqlite.replica_print_store import SqliteReplicaPrintStore
from tests.support.factories import make_track, member

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _print(seed: int, items: int = 1200) -> Fingerprint:
    rng = random.Random(seed)
    return Fingerprint(tuple(rng.getrandbits(32) for _ in range(items)), items / 8.0)


def test_manifest_carries_the_fingerprint_and_old_manifests_still_verify(tmp_path: Path) -> None:
    identity = load_or_create_identity(tmp_path / "key")
    track = replace(make_track(member("alice")), origin_instance=identity.instance_id)
    fp = _print(1)
    with_print = sign(manifest_for(track, [], "a", fp), identity)
    without = sign(manifest_for(track, [], "a"), identity)
    assert "fingerprint" not in without  # a manifest without one is byte-for-byte what older versions made
    assert check_signature(with_print, identity.public_key_b64, verify_signature)
    assert check_signature(without, identity.public_key_b64, verify_signature)
    carried = fingerprint_from_manifest(with_print)
    assert carried is not None and carried.values == fp.values[:MANIFEST_FINGERPRINT_ITEMS]
    assert carried.duration_s == fp.duration_s
    assert fingerprint_from_manifest(without) is None
    for junk in ({"items": "not base64!"}, {"items": "AAA="}, {"items": 5}, "x"):
        assert fingerprint_from_manifest({"fingerprint": junk}) is None


class _Manifests:
    def __init__(self) -> None:
        self.docs: dict[TrackId, Mapping[str, Any]] = {}

    async def manifest(self, track_id: TrackId) -> Mapping[str, Any] | None:
        return self.docs.get(track_id)


class _Pool:
    async def local_path(self, cid: Cid) -> Path | None:
        return Path(f"/blobs/{cid}")


class _Fingerprinter:
    """The audio's true fingerprint per blob path; records what was asked."""

    def __init__(self) -> None:
        self.audio: dict[str, Fingerprint | None] = {}
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, path: Path, seconds: int) -> Fingerprint | None:
        self.calls.append((path.name, seconds))
        fp = self.audio.get(path.name)
        if fp is None:
            return None
        items = int(seconds * 8)
        return Fingerprint(fp.values[:items], min(fp.duration_s, seconds))


async def test_replicated_tracks_are_fingerprinted_claims_checked_on_a_sample(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        tracks = MemoryTrackRepository()
        manifests, printer = _Manifests(), _Fingerprinter()
        service = ReplicaFingerprints(
            tracks, _Pool(), manifests, SqliteReplicaPrintStore(db), printer, ManualClock(T0), sample_s=30
        )
        cases: dict[str, tuple[Fingerprint | None, Fingerprint | None]] = {
            "honest": (_print(1), _print(1)),  # (claimed in the manifest, the real audio)
            "lying": (_print(2), _print(3)),
            "silent-manifest": (None, _print(4)),
            "not-audio": (None, None),
        }
        ids = {}
        for name, (claimed, audio) in cases.items():
            track = replace(make_track(member("alice"), name), cid=Cid(name), origin_instance=InstanceId("wp-peer"))
            await tracks.add(track)
            ids[name] = track.id
            manifests.docs[track.id] = manifest_for(track, [], "peer", claimed)
            printer.audio[name] = audio
            await service.enqueue(track.id)
        gone = replace(make_track(member("alice"), "gone"), status=TrackStatus.TAKEN_DOWN)
        await tracks.add(gone)
        await service.enqueue(gone.id)
        assert await service.run_due() == 5
        assert await service.run_due() == 0  # each once
        store = SqliteReplicaPrintStore(db)
        states = {name: await store.state(track_id) for name, track_id in ids.items()}
        assert states == {
            "honest": ReplicaPrint.CLAIM_CHECKED,
            "lying": ReplicaPrint.MISMATCH,
            "silent-manifest": ReplicaPrint.LOCAL,
            "not-audio": ReplicaPrint.NOT_AUDIO,
        }
        assert await store.state(gone.id) is ReplicaPrint.GONE
        # the honest claim cost one 30 s sample; the lie and the missing claim a full local fingerprint
        assert ("honest", 30) in printer.calls and ("honest", 180) not in printer.calls
        assert ("lying", 180) in printer.calls
        honest = await tracks.fingerprint(ids["honest"])
        assert honest is not None and honest.values == _print(1).values[:MANIFEST_FINGERPRINT_ITEMS]
        lying = await tracks.fingerprint(ids["lying"])
        assert lying is not None and lying.values == _print(3).values[:1440]  # ours, not the claim
        assert await tracks.fingerprint(ids["not-audio"]) is None
    finally:
        await db.close()


def test_first_sharer_evidence_names_the_community_and_shows_a_backdated_claim() -> None:
    early = SharerClaim(InstanceId("wp-a"), "Synthwave Harbour", "Alice", TrackId("a1"), T0, 1_777_000_000_000)
    backdated = SharerClaim(
        InstanceId("wp-b"),
        "Backdate Bay",
        "Mallory",
        TrackId("b1"),
        datetime(2025, 1, 1, tzinfo=UTC),
        1_777_000_600_000,
    )
    evidence = first_sharer_evidence(settle_first_sharer([backdated, early]))
    assert evidence is not None
    assert evidence.detail.startswith("first shared by Alice in Synthwave Harbour on ")
    assert evidence.data["instance"] == "wp-a"
    assert any("Backdate Bay" in c for c in evidence.data["conflicts"])
    assert first_sharer_evidence(settle_first_sharer([])) is None
