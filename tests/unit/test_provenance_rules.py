from __future__ import annotations

from datetime import UTC, datetime

from core.model import (
    Cid,
    Declaration,
    InstanceId,
    Sharer,
    Track,
    TrackId,
    Verdict,
)
from core.ports import C2paInfo, TagInfo
from core.services import provenance
from core.services.provenance import AI_SOURCE_TYPE, NearDuplicate, ProvenanceRules

RULES = ProvenanceRules()
SUNO_ID = "0f5b1a2c-3d4e-4f60-8a9b-0c1d2e3f4a5b"
SUNO_TAGS = TagInfo(
    format="id3",
    title="Neon",
    comment=f"made with suno; created=2026-01-01T00:00:00Z; id={SUNO_ID}",
    url=f"https://suno.com/song/{SUNO_ID}",
)


def _c2pa(state: str, source: str = AI_SOURCE_TYPE) -> C2paInfo:
    return C2paInfo(
        state=state,
        signer="Test Vendor",
        claim_generator="gen/1",
        digital_source_types=(source,),
        actions=("c2pa.created",),
        failure_codes=("assertion.dataHash.mismatch",) if state == "Invalid" else (),
    )


def _verdict(
    *,
    tags: TagInfo | None = None,
    c2pa: C2paInfo | None = None,
    decl: Declaration | None = None,
    near: list[NearDuplicate] | None = None,
) -> tuple[Verdict, str]:
    decl = decl or Declaration()
    evidence = [
        *provenance.tag_evidence(tags or TagInfo(format="none")),
        *provenance.c2pa_evidence(c2pa),
        *provenance.declaration_evidence(decl),
        *provenance.near_duplicate_evidence(near or [], ("cli", "alice")),
    ]
    return provenance.decide(evidence, decl, RULES)


def test_suno_tags_consistent_with_declaration_are_only_declared_until_suno_confirms() -> None:
    verdict, reason = _verdict(tags=SUNO_TAGS, decl=Declaration(generator="suno"))
    assert verdict is Verdict.DECLARED and "not yet confirmed by suno" in reason


def test_signature_contradicting_the_declaration_is_quarantined() -> None:
    verdict, reason = _verdict(tags=SUNO_TAGS, decl=Declaration(generator="udio"))
    assert verdict is Verdict.QUARANTINED and "udio" in reason


def test_trusted_ai_manifest_is_verified_and_untrusted_one_is_not_strong() -> None:
    assert _verdict(c2pa=_c2pa("Trusted"))[0] is Verdict.VERIFIED
    evidence = provenance.c2pa_evidence(_c2pa("Valid"))
    assert evidence[0].claim == "c2pa:valid-ai" and evidence[0].strength.value == "moderate"


def test_invalid_or_non_ai_manifest_is_quarantined() -> None:
    assert _verdict(c2pa=_c2pa("Invalid"))[0] is Verdict.QUARANTINED
    capture = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
    verdict, reason = _verdict(c2pa=_c2pa("Trusted", capture))
    assert verdict is Verdict.QUARANTINED and "not made by AI" in reason


def test_only_the_sharers_word_is_declared() -> None:
    verdict, reason = _verdict(decl=Declaration(generator="suno", prompt="dreamy 80s synthwave"))
    assert verdict is Verdict.DECLARED and "declaration" in reason


def test_near_duplicate_of_another_sharers_track_is_quarantined_but_own_is_not() -> None:
    def near(user: str) -> NearDuplicate:
        track = Track(
            id=TrackId("t1"),
            cid=Cid("bafkreix"),
            size=1,
            media_type="audio/mpeg",
            duration_s=3,
            title="Original",
            sharer=Sharer("cli", user, user),
            first_seen_at=datetime(2026, 1, 1, tzinfo=UTC),
            origin_instance=InstanceId("i"),
            verdict=Verdict.VERIFIED,
            verdict_reason="",
        )
        return NearDuplicate(track, 0.97)

    assert _verdict(decl=Declaration(generator="suno"), near=[near("bob")])[0] is Verdict.QUARANTINED
    assert _verdict(decl=Declaration(generator="suno"), near=[near("alice")])[0] is Verdict.DECLARED
