"""Quality gates: refuse (or quarantine) audio that is not music: silence, one tone, a noise floor.

Three measurements, all from the analysis ingest already runs:

* silence: the share of the decoded length that ffmpeg's silencedetect (-60 dB, 0.5 s)
  found silent, or no measurable loudness at all (everything under EBU R128's gate);
* one repeated tone: the share of distinct Chromaprint sub-fingerprints. A steady or
  beeping tone gives the same item again and again (~0.01); music changes (0.5-1.0);
* a noise floor: the median per-frame spectral flatness. White, pink and brown noise
  measure 0.5-0.85; tones, melodies and chords under 0.003.

Measured on generated audio (tone, beep, white/pink/brown noise, melodies, chords); the
thresholds are config keys with these defaults (docs/PROVENANCE.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from core.model import AudioInfo, Evidence, Fingerprint, QualityReport, Strength


class LowQualityAction(enum.StrEnum):
    """What happens to a track that fails a gate."""

    REFUSE = "refuse"  # the member gets the reason; nothing is stored
    QUARANTINE = "quarantine"  # stored, held for a moderator with the evidence
    ACCEPT = "accept"  # only the evidence on the card


@dataclass(frozen=True)
class QualityRules:
    """Gate thresholds (config [provenance] low_quality, max_silent_share ...)."""

    action: LowQualityAction = LowQualityAction.REFUSE
    max_silent_share: float = 0.8
    min_distinct_share: float = 0.1
    max_noise_flatness: float = 0.15
    min_items: int = 40  # fewer sub-fingerprints (~5 s) say too little about variety


@dataclass(frozen=True)
class QualityFinding:
    """A failed gate: why, in words fit for the member, and the evidence for the card."""

    kind: str  # silent | tone | noise
    reason: str
    evidence: Evidence


def distinct_share(fingerprint: Fingerprint) -> float:
    """Share of distinct sub-fingerprints (1.0: every item differs; ~0.01: one steady tone)."""
    if not fingerprint.values:
        return 0.0
    return len(set(fingerprint.values)) / len(fingerprint.values)


def check_quality(
    info: AudioInfo, quality: QualityReport | None, fingerprint: Fingerprint | None, rules: QualityRules
) -> QualityFinding | None:
    """The first gate the audio fails, or None when it sounds like music."""
    if quality is not None:
        silent = min(1.0, quality.silence_s / max(info.duration_s, 0.001))
        if silent >= rules.max_silent_share:
            why = f"it is silent for {silent:.0%} of its length ({quality.silence_s:.1f} s of {info.duration_s:.1f} s)"
            return QualityFinding(
                "silent",
                why,
                Evidence(
                    "quality",
                    "quality:silent",
                    Strength.AGAINST,
                    why,
                    {
                        "silence_s": quality.silence_s,
                        "duration_s": round(info.duration_s, 3),
                        "silent_share": round(silent, 3),
                        "integrated_lufs": quality.integrated_lufs,
                    },
                ),
            )
    if fingerprint is not None and len(fingerprint.values) >= rules.min_items:
        share = distinct_share(fingerprint)
        if share < rules.min_distinct_share:
            why = f"it is one repeated tone ({share:.0%} of its sound changes from moment to moment)"
            return QualityFinding(
                "tone",
                why,
                Evidence(
                    "quality",
                    "quality:tone",
                    Strength.AGAINST,
                    why,
                    {"distinct_share": round(share, 4), "items": len(fingerprint.values)},
                ),
            )
    if quality is not None and quality.spectral_flatness is not None:
        if quality.spectral_flatness >= rules.max_noise_flatness:
            why = f"it sounds like a steady noise floor (spectral flatness {quality.spectral_flatness:.2f})"
            return QualityFinding(
                "noise",
                why,
                Evidence(
                    "quality", "quality:noise", Strength.AGAINST, why, {"spectral_flatness": quality.spectral_flatness}
                ),
            )
    return None


def gate_evidence(finding: QualityFinding, rules: QualityRules) -> Evidence:
    """The finding's evidence for a stored track: against it (quarantine) or a note (accept)."""
    if rules.action is LowQualityAction.ACCEPT:
        return Evidence("quality", f"quality-note:{finding.kind}", Strength.INFO, finding.reason, finding.evidence.data)
    return finding.evidence
