"""Who may see a track: the one rule every read path applies.

A track is **public** while it is active and accepted (verified or declared). Anything
else — waiting for review, rejected, taken down — is seen only by moderators (the review
queue) and by the member who shared it. Search, the digest, rounds, votes, the prompt
library, ``/blobs``, the federation and the announcements all ask this module; the
repositories take the same rule as ``public_only`` filters, and a contract test walks
every read path to hold them to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.model import Sharer, Track, TrackStatus, Verdict

PUBLIC_VERDICTS = frozenset({Verdict.VERIFIED, Verdict.DECLARED})


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a member (platform and id) and whether they moderate here."""

    platform: str | None = None
    user_id: str | None = None
    moderator: bool = False

    @classmethod
    def of(cls, sharer: Sharer, moderator: bool = False) -> Viewer:
        """The viewer behind a sharer."""
        return cls(sharer.platform, sharer.user_id, moderator)


ANYONE = Viewer()  # the public: the web page, the federation, announcements


def is_public(track: Track) -> bool:
    """Active and accepted: anyone may see, play, vote on and enter it."""
    return track.status is TrackStatus.ACTIVE and track.verdict in PUBLIC_VERDICTS


def can_see(track: Track, viewer: Viewer) -> bool:
    """Public tracks to anyone; the rest to moderators and their sharer only."""
    if is_public(track) or viewer.moderator:
        return True
    return viewer.user_id is not None and (track.sharer.platform, track.sharer.user_id) == (
        viewer.platform,
        viewer.user_id,
    )
