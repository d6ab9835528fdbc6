"""What taking in a federation event did: a kind the code branches on, and words for logs."""

from __future__ import annotations

import enum


class OutcomeKind(enum.Enum):
    """The decision about one incoming event."""

    QUEUED = "queued"  # a track to fetch (now or already)
    KNOWN = "known"  # a track this instance holds already
    DONE = "done"  # a source added, a track taken down
    NOTHING = "nothing"  # nothing to do (unknown track, already taken down)
    OWN = "own"  # this instance's own event
    DUPLICATE = "duplicate"  # an event handled before
    IGNORED = "ignored"  # unverified, malformed, blocked, not allowed
    REFUSED = "refused"  # local policy does not take it


class Outcome(str):
    """An outcome is its words (for logs and tests) with its ``kind`` (for decisions)."""

    kind: OutcomeKind

    def __new__(cls, kind: OutcomeKind, text: str) -> Outcome:
        """The outcome of ``kind`` described by ``text``."""
        made = super().__new__(cls, text)
        made.kind = kind
        return made
