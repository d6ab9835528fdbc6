"""Provenance: turn what we found into evidence, and evidence into a verdict.

The rules live here and only here (``decide``); ``ProvenanceRules`` carries the switches
an operator can set. Evidence items keep their source and strength, so a member sees why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.model import AudioInfo, Declaration, Evidence, PageInfo, Strength, Track, Verdict
from core.ports import C2paInfo, TagInfo
from core.services.generator_signatures import find_signatures

# Claim prefixes of the generator's own answer (``generator-confirmed:suno``): not
# "generator:", so they never count as one more generator claim.
CONFIRMED = "generator-confirmed:"
CONFLICT = "generator-conflict:"

AI_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
# IPTC types that also say "a model made this" (composites with AI parts).
AI_SOURCE_TYPES = frozenset(
    {
        AI_SOURCE_TYPE,
        "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
        "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia",
    }
)


@dataclass(frozen=True)
class ProvenanceRules:
    """The verdict rules' switches (from config [provenance])."""

    quarantine_near_duplicates: bool = True
    quarantine_invalid_c2pa: bool = True
    quarantine_non_ai_c2pa: bool = True
    quarantine_conflicts: bool = True
    accept_undeclared: bool = True


@dataclass(frozen=True)
class NearDuplicate:
    """A pool track that sounds like the new one."""

    track: Track
    similarity: float


def short_type(source_type: str) -> str:
    """The last path element of an IPTC digitalSourceType URI."""
    return source_type.rstrip("/").rsplit("/", 1)[-1]


def tag_evidence(tags: TagInfo) -> list[Evidence]:
    """Generator signatures and descriptive tags."""
    out: list[Evidence] = []
    for sig in find_signatures(tags):
        detail = f"{sig.generator} signature in the {sig.where} tag"
        if sig.song_id:
            detail += f" (song {sig.song_id})"
        out.append(
            Evidence(
                "tags",
                f"generator:{sig.generator}",
                Strength.MODERATE,
                detail,
                {"generator": sig.generator, "song_id": sig.song_id, "where": sig.where, "text": sig.text},
            )
        )
    described = {k: v for k, v in (("title", tags.title), ("artist", tags.artist)) if v}
    if tags.lyrics:
        described["lyrics"] = f"{len(tags.lyrics)} characters"
    if tags.style:
        described["style"] = tags.style[:200]
    if described:
        out.append(
            Evidence(
                "tags", "tags:present", Strength.INFO, f"{tags.format} tags: " + ", ".join(sorted(described)), described
            )
        )
    return out


def c2pa_evidence(c2pa: C2paInfo | None) -> list[Evidence]:
    """What the C2PA manifest proves, or that there is none."""
    if c2pa is None:
        return [Evidence("c2pa", "c2pa:absent", Strength.INFO, "no C2PA manifest")]
    data = {
        "state": c2pa.state,
        "signer": c2pa.signer,
        "claim_generator": c2pa.claim_generator,
        "digital_source_types": list(c2pa.digital_source_types),
        "actions": list(c2pa.actions),
        "failure_codes": list(c2pa.failure_codes),
        "vendor_assertions": c2pa.vendor_assertions,
    }
    by = f" signed by {c2pa.signer}" if c2pa.signer else ""
    if c2pa.state == "Invalid":
        codes = ", ".join(c2pa.failure_codes) or "unknown failure"
        return [Evidence("c2pa", "c2pa:invalid", Strength.AGAINST, f"C2PA manifest is invalid ({codes})", data)]
    ai = any(t in AI_SOURCE_TYPES for t in c2pa.digital_source_types)
    kinds = ", ".join(short_type(t) for t in c2pa.digital_source_types) or "no source type"
    if c2pa.state == "Trusted":
        if ai:
            return [Evidence("c2pa", "c2pa:trusted-ai", Strength.STRONG, f"trusted C2PA manifest{by}: {kinds}", data)]
        if c2pa.digital_source_types:
            return [
                Evidence(
                    "c2pa",
                    "c2pa:trusted-not-ai",
                    Strength.AGAINST,
                    f"trusted C2PA manifest{by} says it is not AI-made: {kinds}",
                    data,
                )
            ]
        return [Evidence("c2pa", "c2pa:trusted", Strength.INFO, f"trusted C2PA manifest{by}, no source type", data)]
    # Valid: intact, but the signer does not chain to an anchor we trust.
    if ai:
        return [
            Evidence(
                "c2pa",
                "c2pa:valid-ai",
                Strength.MODERATE,
                f"intact C2PA manifest{by} (signer not trusted here): {kinds}",
                data,
            )
        ]
    if c2pa.digital_source_types:
        return [
            Evidence(
                "c2pa",
                "c2pa:valid-not-ai",
                Strength.AGAINST,
                f"intact C2PA manifest{by} (signer not trusted here) says it is not AI-made: {kinds}",
                data,
            )
        ]
    return [Evidence("c2pa", "c2pa:valid", Strength.INFO, f"intact C2PA manifest{by}, no source type", data)]


def page_evidence(page: PageInfo | None) -> list[Evidence]:
    """What the shared link's page said."""
    if page is None:
        return []
    data = {
        k: v
        for k, v in {
            "url": page.url,
            "canonical_url": page.canonical_url,
            "site": page.site,
            "generator": page.generator,
            "song_id": page.song_id,
            "title": page.title,
            "creator": page.creator,
            "model": page.model,
            "style": page.style,
            "tags": list(page.tags) or None,
        }.items()
        if v
    }
    if page.generator:
        what = f"{page.generator} song page" + (f" (song {page.song_id})" if page.song_id else "")
        if page.creator:
            what += f" by {page.creator}"
        out = [Evidence("page", f"generator:{page.generator}", Strength.MODERATE, what, data)]
        if page.site == page.generator and page.audio_url:
            # The link fetcher routed the URL to the generator's own extractor: the bytes are
            # what the generator's page serves, which is the confirmation itself.
            out.append(
                Evidence(
                    "page",
                    f"{CONFIRMED}{page.generator}",
                    Strength.STRONG,
                    f"the audio was downloaded from {page.generator}'s own page"
                    + (f" for song {page.song_id}" if page.song_id else ""),
                    data,
                )
            )
        return out
    return [
        Evidence(
            "page",
            "page:source",
            Strength.INFO,
            f"from {page.site or 'a web page'}: {page.canonical_url or page.url}",
            data,
        )
    ]


def declaration_evidence(declaration: Declaration) -> list[Evidence]:
    """The sharer's own word."""
    said = {
        k: v
        for k, v in (("generator", declaration.generator), ("prompt", declaration.prompt), ("style", declaration.style))
        if v
    }
    if not said:
        return []
    text = f"sharer declared {declaration.generator}" if declaration.generator else "sharer gave a prompt/style"
    return [Evidence("declaration", "ai:declared", Strength.WEAK, text, said)]


def near_duplicate_evidence(near: Sequence[NearDuplicate], sharer_key: tuple[str, str]) -> list[Evidence]:
    """Pool tracks that sound the same; another sharer's speaks against this one."""
    out = []
    for item in near:
        own = (item.track.sharer.platform, item.track.sharer.user_id) == sharer_key
        out.append(
            Evidence(
                "near_duplicate",
                "near-duplicate:own" if own else "near-duplicate:other",
                Strength.INFO if own else Strength.AGAINST,
                f"sounds like {item.track.title!r} shared by {item.track.sharer.display_name} "
                f"({item.similarity:.0%} similar)",
                {
                    "track_id": item.track.id,
                    "cid": item.track.cid,
                    "similarity": round(item.similarity, 4),
                    "sharer": item.track.sharer.display_name,
                    "first_seen_at": item.track.first_seen_at.isoformat(),
                },
            )
        )
    return out


def claimed_generators(evidence: Sequence[Evidence]) -> dict[str, set[str]]:
    """Generator name -> the sources that claim it (tags, page, declaration)."""
    out: dict[str, set[str]] = {}
    for item in evidence:
        if item.claim.startswith("generator:"):
            out.setdefault(item.claim.split(":", 1)[1], set()).add(item.source)
    return out


def _song_ids(evidence: Sequence[Evidence]) -> set[str]:
    return {
        str(e.data["song_id"]).lower() for e in evidence if e.claim.startswith("generator:") and e.data.get("song_id")
    }


def decide(evidence: Sequence[Evidence], declaration: Declaration, rules: ProvenanceRules) -> tuple[Verdict, str]:
    """The verdict and its reason; the one place where provenance rules live."""
    claims = {e.claim for e in evidence}
    generators = claimed_generators(evidence)
    declared = (declaration.generator or "").strip().lower() or None
    signed_generators = set(generators)
    low_quality = next((e for e in evidence if e.claim.startswith("quality:")), None)
    if low_quality is not None:  # only present when the operator chose quarantine over refusal
        return Verdict.QUARANTINED, low_quality.detail
    if rules.quarantine_invalid_c2pa and "c2pa:invalid" in claims:
        return Verdict.QUARANTINED, "its C2PA manifest is invalid (the file was changed after signing)"
    if rules.quarantine_non_ai_c2pa and claims & {"c2pa:trusted-not-ai", "c2pa:valid-not-ai"}:
        return Verdict.QUARANTINED, "its C2PA manifest says it was not made by AI"
    if rules.quarantine_near_duplicates and "near-duplicate:other" in claims:
        return Verdict.QUARANTINED, "it sounds like a track another member shared first"
    if rules.quarantine_conflicts:
        conflict = next((e for e in evidence if e.claim.startswith(CONFLICT)), None)
        if conflict is not None:
            return Verdict.QUARANTINED, conflict.detail
        if len(signed_generators) > 1:
            return Verdict.QUARANTINED, "its evidence names different generators: " + ", ".join(
                sorted(signed_generators)
            )
        if declared and signed_generators and declared not in signed_generators:
            return Verdict.QUARANTINED, (
                f"the sharer declared {declared} but the file says {', '.join(sorted(signed_generators))}"
            )
        if len(_song_ids(evidence)) > 1:
            return Verdict.QUARANTINED, "the file and the page name different songs"
    if "c2pa:trusted-ai" in claims:
        return Verdict.VERIFIED, "a trusted C2PA manifest says it was made by AI"
    confirmed = next((e for e in evidence if e.claim.startswith(CONFIRMED)), None)
    if confirmed is not None:
        return Verdict.VERIFIED, confirmed.detail
    if signed_generators:
        # Tags and page text are claims anybody can write (one line of mutagen): they stay
        # "declared" until the generator itself serves the same audio (core.services.confirmation).
        generator = sorted(signed_generators)[0]
        sources = ", ".join(sorted(generators[generator]))
        return Verdict.DECLARED, f"{generator} signature ({sources}), not yet confirmed by {generator}"
    if "c2pa:valid-ai" in claims:
        # Anybody can sign with a self-made certificate: intact is not proof of who made it.
        return Verdict.DECLARED, "an intact C2PA manifest from a signer not trusted here says it was made by AI"
    if "ai:declared" in claims:
        return Verdict.DECLARED, "only the sharer's declaration"
    if rules.accept_undeclared:
        return Verdict.DECLARED, "no provenance evidence; shared as is"
    return Verdict.QUARANTINED, "no provenance evidence and no declaration"


def container_evidence(info: AudioInfo) -> Evidence:
    """What the bytes really are."""
    detail = f"{info.container} / {info.codec}, {info.duration_s:.1f} s"
    if info.sample_rate:
        detail += f", {info.sample_rate} Hz"
    return Evidence(
        "container",
        f"container:{info.container}",
        Strength.INFO,
        detail,
        {
            "container": info.container,
            "codec": info.codec,
            "media_type": info.media_type,
            "duration_s": round(info.duration_s, 3),
            "header_duration_s": info.header_duration_s,
            "sample_rate": info.sample_rate,
            "channels": info.channels,
            "bit_rate": info.bit_rate,
        },
    )
