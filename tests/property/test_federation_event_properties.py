"""Incoming federation events: whatever a room member or a peer sends, the replicator answers
with an outcome (never an exception), and nothing unsigned reaches the queue or the pool."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from core.clock import ManualClock
from core.errors import FetchError
from core.federation.manifest import manifest_for, sign
from core.federation.peer_registry import key_proof
from core.federation.policy import FederationPolicy
from core.federation.replication import Replicator
from core.model import Verdict
from storage.blob_pool import DiskBlobPool
from storage.identity import instance_id_for, load_or_create_identity, verify_signature
from storage.sqlite.database import Database
from storage.sqlite.event_log import SqliteEventLog
from storage.sqlite.federation_store import SqliteFederationStore
from storage.sqlite.track_repository import SqliteTrackRepository
from tests.property.strategies import PROPERTY_SETTINGS, documents, json_values
from tests.property.test_manifest_properties import SIGNER, _sample, tracks

PEER = "@peer:hs"
STRANGER = "@stranger:hs"


class NoSources:
    async def open(self, source: Mapping[str, str], max_bytes: int) -> AsyncIterator[bytes]:
        raise FetchError("no source in this test")
        yield b""  # pragma: no cover - makes this an async generator


@pytest.fixture
async def replicator(tmp_path: Path) -> AsyncIterator[Replicator]:
    db = await Database.open(tmp_path / "fed.sqlite3")
    identity = load_or_create_identity(tmp_path / "me")
    rep = Replicator(
        signer=identity,
        name="me",
        community="c",
        homepage="",
        user_id="@me:hs",
        store=SqliteFederationStore(db),
        tracks=SqliteTrackRepository(db),
        pool=DiskBlobPool(tmp_path / "pool"),
        clock=ManualClock(),
        policy=FederationPolicy(),
        sources=NoSources(),
        verify=verify_signature,
        id_for_key=instance_id_for,
        events=SqliteEventLog(db),
    )
    peer = await rep.handle_instance(
        PEER,
        PEER,
        {
            "instance": SIGNER.instance_id,
            "public_key": SIGNER.public_key_b64,
            "name": "peer",
            "proof": key_proof(SIGNER, PEER),
        },
    )
    assert peer is not None
    yield rep
    await db.close()


counter = iter(range(10**9))
FIELDS = [
    "sources",
    "size",
    "duration_s",
    "verdict",
    "genre",
    "tags",
    "evidence",
    "quality",
    "sharer",
    "cid",
    "first_seen_at",
    "title",
    "track_id",
]
# The peer's own well-formed manifest with some fields replaced, correctly signed again.
# Small and verified, so local policy lets it through to the fetch queue.
resigned = st.builds(
    lambda track, changes: {
        "manifest": sign(
            {
                **manifest_for(replace(track, size=1000, verdict=Verdict.VERIFIED), [], "peer"),
                **changes,
            },
            SIGNER,
        )
    },
    tracks,
    st.dictionaries(st.sampled_from(FIELDS), json_values, min_size=1, max_size=3),
)
contents = st.one_of(
    resigned,
    documents,
    st.builds(lambda d: {"manifest": d}, json_values),
    documents.map(lambda d: sign(d, SIGNER)),
    st.builds(lambda d: {"manifest": sign(d, SIGNER)}, documents),
    tracks.map(lambda t: {"manifest": {**sign({"kind": "track", "origin": "not a table", "track_id": t.id}, SIGNER)}}),
)


async def _all_handlers(rep: Replicator, sender: str, content: Any) -> list[Any]:
    event = f"$fuzz{next(counter)}"
    return [
        await rep.handle_track(event + "t", sender, content),
        await rep.handle_have(event + "h", sender, content),
        await rep.handle_tombstone(event + "x", sender, content),
        await rep.handle_tombstone(event + "m", sender, content, sender_is_moderator=True),
        await rep.handle_digest(sender, content),
        await rep.handle_redaction(event, sender, sender_is_moderator=True),
    ]


@PROPERTY_SETTINGS
@given(st.sampled_from([PEER, STRANGER, "@me:hs", ""]), contents)
async def test_any_event_gets_an_outcome_never_an_exception(replicator: Replicator, sender: str, content: Any) -> None:
    queued = await replicator.store.queue_size()
    outcomes = await _all_handlers(replicator, sender, content)
    assert all(isinstance(o, str) for o in outcomes[:4])
    if sender != PEER:
        assert outcomes[4] is None  # a digest counts only from a peer that signed it
        assert await replicator.store.queue_size() == queued


@PROPERTY_SETTINGS
@given(documents)
async def test_unsigned_events_from_a_known_peer_are_rejected(replicator: Replicator, content: dict[str, Any]) -> None:
    rejected = replicator.rejected_events
    outcomes = await _all_handlers(replicator, PEER, content)
    assert outcomes[0] in ("ignored: unverified", "ignored: malformed")
    assert outcomes[1] == outcomes[2] == "ignored: unverified"
    assert outcomes[4] is None
    assert replicator.rejected_events >= rejected + 3


@PROPERTY_SETTINGS
@given(
    json_values,
    st.one_of(
        st.text(max_size=60),
        st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode().rstrip("=")),
    ),
    st.text(max_size=40),
    st.text(max_size=20),
)
async def test_an_instance_key_is_registered_only_under_its_own_id(
    replicator: Replicator, extra: Any, key: str, claimed: str, who: str
) -> None:
    sender = f"@{who}:hs"
    for content in (
        {"public_key": key, "instance": claimed, "name": extra},
        {"public_key": key, "instance": _id(key) or claimed},
        extra if isinstance(extra, dict) else {},
    ):
        peer = await replicator.handle_instance(sender, sender, content)
        if peer is not None:
            assert peer.instance_id == _id(key) and peer.user_id == sender
    assert (
        await replicator.handle_instance(sender, "@someone-else:hs", {"public_key": key, "instance": _id(key)}) is None
    )


def _id(key: str) -> str | None:
    try:
        return instance_id_for(base64.b64decode(key + "=" * (-len(key) % 4), validate=True))
    except ValueError:
        return None


def _resigned_example(**changes: Any) -> dict[str, Any]:
    track = replace(_sample(), size=1000, verdict=Verdict.VERIFIED)
    return {"manifest": sign({**manifest_for(track, [], "peer"), **changes}, SIGNER)}


@PROPERTY_SETTINGS
@given(resigned)
@example(_resigned_example(sources=5))  # found by the atheris events harness
@example(_resigned_example(sources={"mxc": "mxc://hs/x"}))
async def test_a_peers_signed_manifest_with_odd_fields_gets_an_outcome(
    replicator: Replicator, content: dict[str, Any]
) -> None:
    outcome = await replicator.handle_track(f"$signed{next(counter)}", PEER, content)
    assert outcome.startswith(("queued", "ignored", "refused", "known", "already"))
