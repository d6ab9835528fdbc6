"""Signed federation documents: the signature holds through the wire and breaks on any change.

Covers every signed event kind (track manifests, tombstones, ``have`` announcements,
digests) and the parsing of a manifest into a track record.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from core.cid import cid_of
from core.errors import IntegrityError
from core.federation.manifest import (
    canonical_json,
    check_signature,
    manifest_for,
    sign,
    to_wire,
    tombstone_for,
    track_from_manifest,
)
from core.model import InstanceId, Sharer, Track, TrackId, Verdict
from storage.identity import Identity, verify_signature
from tests.property.strategies import PROPERTY_SETTINGS, documents, json_values, mutated_document


def _identity() -> Identity:
    key = Ed25519PrivateKey.generate()
    return Identity(key, key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


SIGNER = _identity()
OTHER = _identity()

texts = st.text(max_size=60)
optional_texts = st.none() | texts
tracks = st.builds(
    lambda title, artist, prompt, lyrics, tags, duration, size, verdict, genre, seconds: Track(
        id=TrackId("t" + cid_of(title.encode())[-12:]),
        cid=cid_of(f"{title}{size}".encode()),
        size=size,
        media_type="audio/mpeg",
        duration_s=duration,
        title=title,
        sharer=Sharer("matrix", "@a:hs", "A"),
        first_seen_at=datetime.fromtimestamp(seconds, UTC),
        origin_instance=SIGNER.instance_id,
        verdict=verdict,
        verdict_reason="because",
        artist=artist,
        genre=genre,
        tags=tuple(tags),
        prompt=prompt,
        lyrics=lyrics,
    ),
    st.text(min_size=1, max_size=400),
    optional_texts,
    st.none() | st.text(max_size=5000),
    optional_texts,
    st.lists(texts, max_size=40),
    st.floats(0, 36000, allow_nan=False),
    st.integers(1, 2**40),
    st.sampled_from(list(Verdict)),
    optional_texts,
    st.integers(0, 4_000_000_000),
)
sources = st.lists(st.fixed_dictionaries({"mxc": st.text(max_size=40)}), max_size=3)


def _wire(document: dict[str, Any]) -> Any:
    """What a peer receives: the document through JSON, as the homeserver relays it."""
    return json.loads(json.dumps(document))


def _signed_kinds(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["track", "tombstone", "have", "digest", "other"]))
    now = datetime(2026, 1, 5, tzinfo=UTC)
    if kind == "track":
        return sign(manifest_for(draw(tracks), draw(sources), "origin"), SIGNER)
    if kind == "tombstone":
        return sign(tombstone_for(draw(tracks), draw(optional_texts), now), SIGNER)
    if kind == "have":
        return sign(
            {
                "cid": cid_of(draw(st.binary(max_size=8))),
                "source": {"mxc": draw(texts)},
                "at": now.isoformat(),
            },
            SIGNER,
        )
    if kind == "digest":
        return sign(
            {
                "v": 1,
                "kind": "digest",
                "origin": {"instance": SIGNER.instance_id, "name": "o"},
                "title": draw(texts),
                "data": draw(json_values),
                "at": now.isoformat(),
            },
            SIGNER,
        )
    return sign(draw(documents), SIGNER)


signed_documents = st.composite(_signed_kinds)()


@PROPERTY_SETTINGS
@given(signed_documents)
def test_signature_holds_through_the_wire_in_any_key_order(document: dict[str, Any]) -> None:
    received = _wire(document)
    assert check_signature(received, SIGNER.public_key_b64, verify_signature)
    reordered = dict(reversed(list(received.items())))
    assert check_signature(reordered, SIGNER.public_key_b64, verify_signature)
    assert not check_signature(received, OTHER.public_key_b64, verify_signature)


@PROPERTY_SETTINGS
@given(signed_documents, st.data())
def test_any_change_breaks_the_signature(document: dict[str, Any], data: st.DataObject) -> None:
    changed = mutated_document(data, _wire(document))
    assert canonical_json({k: v for k, v in changed.items() if k != "signature"}) != canonical_json(
        {k: v for k, v in document.items() if k != "signature"}
    )
    assert not check_signature(changed, SIGNER.public_key_b64, verify_signature)


@PROPERTY_SETTINGS
@given(signed_documents, json_values, json_values)
def test_a_forged_or_garbled_signature_is_refused_not_raised(document: dict[str, Any], sig: Any, key: Any) -> None:
    for signature in (
        sig,
        {"key": SIGNER.public_key_b64, "sig": sig},
        {"key": key, "sig": document["signature"]["sig"]},
        {"key": SIGNER.public_key_b64, "sig": OTHER.sign(canonical_json({"x": sig}))},
    ):
        forged = {**_wire(document), "signature": signature}
        assert check_signature(forged, SIGNER.public_key_b64, verify_signature) is False


@PROPERTY_SETTINGS
@given(json_values, st.text(max_size=60))
def test_check_signature_never_raises_on_any_json(document: Any, key: str) -> None:
    assert check_signature(document, key, verify_signature) in (True, False)


@PROPERTY_SETTINGS
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
        max_leaves=10,
    )
)
def test_wire_form_has_no_floats_and_is_canonical_json(value: Any) -> None:
    wire = to_wire(value)
    encoded = canonical_json(wire)  # never refuses: NaN and infinities became strings
    assert json.loads(encoded) == wire
    assert _floats(wire) == []


def _floats(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats(v)]
    if isinstance(value, list):
        return [f for v in value for f in _floats(v)]
    return []


@PROPERTY_SETTINGS
@given(tracks, sources)
def test_manifest_round_trips_to_the_same_track(track: Track, listed: list[dict[str, str]]) -> None:
    received = _wire(sign(manifest_for(track, listed, "origin"), SIGNER))
    copy = track_from_manifest(received)
    assert (copy.id, copy.cid, copy.size, copy.duration_s, copy.verdict) == (
        track.id,
        track.cid,
        track.size,
        track.duration_s,
        track.verdict,
    )
    assert copy.title == track.title[:300] and copy.prompt == track.prompt and copy.artist == track.artist
    assert copy.tags == tuple(track.tags[:30]) and copy.first_seen_at == track.first_seen_at
    assert copy.origin_instance == SIGNER.instance_id and "@a:hs" not in copy.sharer.user_id
    assert received["sources"] == listed


@PROPERTY_SETTINGS
@given(tracks, st.data())
def test_a_changed_manifest_parses_to_a_track_or_integrity_error(track: Track, data: st.DataObject) -> None:
    manifest = mutated_document(data, _wire(sign(manifest_for(track, [], "o"), SIGNER)))
    try:
        parsed = track_from_manifest(manifest)
    except IntegrityError:
        return
    assert isinstance(parsed, Track) and parsed.first_seen_at.tzinfo is not None


@PROPERTY_SETTINGS
@given(documents)
def test_any_document_parses_to_a_track_or_integrity_error(document: dict[str, Any]) -> None:
    base = _wire(sign(manifest_for(replace(_sample(), origin_instance=InstanceId("wp-x")), [], "o"), SIGNER))
    for candidate in (document, {**base, **document}):
        try:
            track_from_manifest(candidate)
        except IntegrityError:
            pass


def _sample() -> Track:
    return Track(
        id=TrackId("t1"),
        cid=cid_of(b"s"),
        size=1,
        media_type="audio/mpeg",
        duration_s=1.0,
        title="s",
        sharer=Sharer("matrix", "@a:hs", "A"),
        first_seen_at=datetime(2026, 1, 1, tzinfo=UTC),
        origin_instance=SIGNER.instance_id,
        verdict=Verdict.DECLARED,
        verdict_reason="",
    )


times = st.one_of(
    st.datetimes(timezones=st.none() | st.timezones()).map(datetime.isoformat),
    st.text(max_size=30),
    st.sampled_from(["2026-01-05T12:00:00", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]),
)
numbers = st.one_of(st.floats().map(repr), st.integers().map(str), st.sampled_from(["nan", "inf", "-1", "1e400"]))


@PROPERTY_SETTINGS
@given(times, numbers, st.integers(-(2**53), 2**53))
def test_a_parsed_track_can_be_ranked_and_shown(first_seen: str, duration: str, size: int) -> None:
    manifest = {
        **_wire(sign(manifest_for(_sample(), [], "o"), SIGNER)),
        "first_seen_at": first_seen,
        "duration_s": duration,
        "size": size,
    }
    try:
        track = track_from_manifest(manifest)
    except IntegrityError:
        return
    # Compared with our own aware UTC times in the digest; formatted in cards.
    assert track.first_seen_at.utcoffset() is not None
    assert (track.first_seen_at < datetime(2026, 1, 1, tzinfo=UTC)) in (True, False)
    assert f"{track.duration_s:.0f}" and track.duration_s >= 0 and track.size >= 0
