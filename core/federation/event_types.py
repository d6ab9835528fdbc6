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
