"""The Matrix event types of the federation, and the fetch retry schedule."""

from __future__ import annotations

from datetime import timedelta

INSTANCE_EVENT = "org.wavepool.instance"
TRACK_EVENT = "org.wavepool.track.v1"
HAVE_EVENT = "org.wavepool.have.v1"
TOMBSTONE_EVENT = "org.wavepool.tombstone.v1"
DIGEST_EVENT = "org.wavepool.digest.v1"
BOOST_EVENT = "org.wavepool.boost.v1"  # issue 17: a signed update of a track's boost count
SNAPSHOT_STATE = "org.wavepool.snapshot"

MAX_ATTEMPTS = 8


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 5 * 2 ** max(0, attempts - 1)))


# Cross-community rounds (docs/FEDERATED_ROUNDS.md): signed like manifests.
ROUND_EVENT = "org.wavepool.round.v1"  # the organiser's announcement
ROUND_MEMBER_EVENT = "org.wavepool.round_member.v1"  # an opt-in or a leave
ROUND_ENTRY_EVENT = "org.wavepool.round_entry.v1"  # a participant's entry (a pool track's CID)
ROUND_TALLY_EVENT = "org.wavepool.round_tally.v1"  # a participant's tally at the close
ROUND_SCHEDULE_EVENT = "org.wavepool.round_schedule.v1"  # the organiser closed a phase early
ROUND_CANCEL_EVENT = "org.wavepool.round_cancel.v1"  # the organiser cancelled before voting
ROUND_EVENT_TYPES = (
    ROUND_EVENT,
    ROUND_MEMBER_EVENT,
    ROUND_ENTRY_EVENT,
    ROUND_TALLY_EVENT,
    ROUND_SCHEDULE_EVENT,
    ROUND_CANCEL_EVENT,
)
