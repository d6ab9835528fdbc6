"""Atheris harnesses over the federation parsers and the media sniffers.

Each harness is a function of the fuzzer's bytes that raises only on a real defect:
an exception the code does not document, or a broken invariant (a changed document whose
signature still verifies, a sniffed container the link sniffer would call a page).
``python -m tests.fuzz.run NAME`` runs one; ``tests/fuzz/test_fuzz_harnesses.py`` runs each
for a fixed number of inputs in CI.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import atheris

from core.federation.peer_registry import key_proof
from storage.memory_events import MemoryEventLog
from storage.memory_federation import MemoryFederationStore

with atheris.instrument_imports(include=["core", "storage"]):
    from core.cid import cid_of
    from core.clock import ManualClock
    from core.errors import FetchError, IntegrityError, NotAudioError
    from core.federation.manifest import (
        canonical_json,
        check_signature,
        manifest_for,
        sign,
        to_wire,
        tombstone_for,
        track_from_manifest,
    )
    from core.federation.policy import FederationPolicy
    from core.federation.replication import Replicator
    from core.model import Sharer, Track, TrackId, Verdict
    from storage.identity import Identity, instance_id_for, verify_signature
    from storage.links.sniff import is_page, looks_like_audio, media_type
    from storage.media.sniff import sniff
    from storage.memory import MemoryBlobPool, MemoryTrackRepository

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.fuzz.values import document_from, json_value

logging.disable(logging.CRITICAL)  # every rejected event logs a warning: millions of lines otherwise

_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))  # fixed: seeds stay valid across runs
SIGNER = Identity(_KEY, _KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
PEER = "@peer:hs"


def sample_track() -> Track:
    """A track of the signing peer with every optional field set."""
    return Track(
        id=TrackId("a1b2c3d4e5f60718"),
        cid=cid_of(b"fuzz"),
        size=4,
        media_type="audio/mpeg",
        duration_s=183.25,
        title="Neon rain",
        sharer=Sharer("matrix", "@alice:hs", "Alice"),
        first_seen_at=datetime(2026, 1, 5, 12, tzinfo=UTC),
        origin_instance=SIGNER.instance_id,
        verdict=Verdict.VERIFIED,
        verdict_reason="c2pa",
        artist="Alice",
        genre="synthwave",
        tags=("80s", "night"),
        prompt="dreamy synthwave",
        style="retro",
        lyrics="[Verse]",
        generator="suno",
        generator_song_id="abc",
        source_url="https://suno.com/song/abc",
    )


MANIFEST = sign(
    manifest_for(sample_track(), [{"mxc": "mxc://hs/abc"}, {"http": "https://peer.example/b"}], "peer"),
    SIGNER,
)
TOMBSTONE = sign(tombstone_for(sample_track(), "asked by the author", datetime(2026, 1, 6, tzinfo=UTC)), SIGNER)
HAVE = sign(
    {"cid": cid_of(b"fuzz"), "source": {"mxc": "mxc://hs/x"}, "at": "2026-01-06T00:00:00+00:00"},
    SIGNER,
)
DIGEST = sign(
    {
        "v": 1,
        "kind": "digest",
        "origin": {"instance": SIGNER.instance_id, "name": "peer"},
        "title": "week 2",
        "data": {"top": [{"title": "Neon rain", "score": 4.5}]},
        "at": "2026-01-06T00:00:00+00:00",
    },
    SIGNER,
)
DOCUMENTS = {"manifest": MANIFEST, "tombstone": TOMBSTONE, "have": HAVE, "digest": DIGEST}


# -- manifests and signatures ---------------------------------------------------------------


def manifest_input(data: bytes) -> None:
    """Signature check and manifest parsing on a changed (or raw JSON) signed document."""
    which = sorted(DOCUMENTS)[data[0] % len(DOCUMENTS)] if data else "manifest"
    document, was_changed = document_from(data[1:], DOCUMENTS[which])
    valid = check_signature(document, SIGNER.public_key_b64, verify_signature)
    assert valid in (True, False)
    if valid and was_changed:
        raise AssertionError(f"a changed {which} still verifies: {document!r}")
    if isinstance(document, Mapping):
        try:
            track = track_from_manifest(document)
        except IntegrityError:
            return
        canonical_json(to_wire({"title": track.title, "tags": list(track.tags)}))


# -- incoming events --------------------------------------------------------------------------


class _NoSources:
    async def open(self, source: Mapping[str, str], max_bytes: int) -> AsyncIterator[bytes]:
        raise FetchError("offline")
        yield b""  # pragma: no cover


_loop = asyncio.new_event_loop()
_END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)


def _replicator() -> Replicator:
    other = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    me = Identity(other, other.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    tracks = MemoryTrackRepository()
    rep = Replicator(
        signer=me,
        name="me",
        community="c",
        homepage="",
        user_id="@me:hs",
        store=MemoryFederationStore(tracks),
        tracks=tracks,
        pool=MemoryBlobPool(),
        clock=ManualClock(),
        policy=FederationPolicy(),
        sources=_NoSources(),
        verify=verify_signature,
        id_for_key=instance_id_for,
        events=MemoryEventLog(),
    )
    peer = _loop.run_until_complete(
        rep.handle_instance(
            PEER,
            PEER,
            {
                "instance": SIGNER.instance_id,
                "public_key": SIGNER.public_key_b64,
                "name": "peer",
                "proof": key_proof(SIGNER, PEER),
            },
        )
    )
    assert peer is not None
    return rep


_REP = _replicator()
_events = iter(range(1 << 62))


async def _events_input(data: bytes) -> None:
    which = sorted(DOCUMENTS)[data[0] % len(DOCUMENTS)] if data else "manifest"
    document, _ = document_from(data[2:], DOCUMENTS[which])
    resign = bool(data[1] & 1) if len(data) > 1 else False
    if resign and isinstance(document, dict):  # the peer itself sends nonsense, correctly signed
        try:
            document = sign(document, SIGNER)
        except (IntegrityError, ValueError, RecursionError):
            return
    content = {"manifest": document} if which == "manifest" else document
    if not isinstance(content, Mapping):
        content = {"content": content}
    sender = PEER if len(data) < 2 or data[1] & 2 == 0 else "@stranger:hs"
    event = f"$e{next(_events)}"
    rep = _REP
    await rep.handle_track(event + "t", sender, content)
    await rep.handle_have(event + "h", sender, content)
    await rep.handle_tombstone(event + "x", sender, content, sender_is_moderator=bool(len(data) > 2 and data[2] & 1))
    await rep.handle_digest(sender, content)
    await rep.handle_redaction(event + "t", sender, sender_is_moderator=False)
    await rep.handle_instance(sender, sender, content)
    if sender != PEER:
        queued = await rep.store.due(_END_OF_TIME, 10_000)  # everything in the fetch queue
        assert all(item.manifest.get("signature") for item in queued)


def events_input(data: bytes) -> None:
    """Every federation event handler on one input; outcomes only, never an exception."""
    _loop.run_until_complete(_events_input(data))


# -- media sniffers ----------------------------------------------------------------------------

_folder = Path(tempfile.mkdtemp(prefix="wavepool-fuzz-"))


def sniff_input(data: bytes) -> None:
    """Both sniffers on the same bytes; they must agree on what is audio."""
    fdp = atheris.FuzzedDataProvider(data)
    content_type = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40)) if fdp.ConsumeBool() else None
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    kind = media_type(content_type)
    assert kind == kind.strip().lower()
    page = is_page(content_type, body[:512])
    if looks_like_audio(body[:512]):
        assert not page
    path = _folder / f"in-{os.getpid()}"
    path.write_bytes(body)
    try:
        found = sniff(path)
    except NotAudioError:
        return
    if not looks_like_audio(body[:512]):
        raise AssertionError(f"ingest accepts {found.container} that the link fetcher calls not audio: {body[:16]!r}")


HARNESSES: dict[str, Callable[[bytes], None]] = {
    "manifest": manifest_input,
    "events": events_input,
    "sniff": sniff_input,
}


def seeds(name: str) -> list[bytes]:
    """Starting inputs: the signed documents themselves and the magic bytes of each container."""
    if name == "sniff":
        return [
            b"\x01" + m + b"\x00" * 64
            for m in (
                b"ID3\x04\x00\x00\x00\x00\x00\x10\xff\xfb\x90\x00",
                b"fLaC",
                b"OggS",
                b"RIFF\x00\x00\x00\x00WAVE",
                b"\x00\x00\x00\x18ftyp",
                b"\xff\xfb\x90\x00",
                b"<html>",
                b"%PDF-1.4",
            )
        ]
    out = []
    for index, key in enumerate(sorted(DOCUMENTS)):
        out.append(bytes([index, 0, 0]) + json.dumps(DOCUMENTS[key]).encode())
        out.append(bytes([index, 1, 1, 1]) + os.urandom(64))
    return out


__all__ = ["HARNESSES", "json_value", "seeds"]
