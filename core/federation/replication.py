"""Replication: publishing local tracks, and taking in peers' signed manifests.

Incoming events go through ``handle_*`` (called by the Matrix adapter for live sync and for
history pagination alike; each event id is processed once). A track manifest is checked
(the sender owns the signing key, the signature holds, local policy accepts it) and put
in the persistent fetch queue; ``run_queue`` fetches each blob from its sources in turn,
verifying every byte against the CID, stores it and records the track. Publishing goes
through a persistent outbox, so a homeserver outage delays it but loses nothing.

The parts live in their own modules: ``peer_registry`` (state and peers), ``intake``
(incoming events), ``page_intake`` (a page of track events at once), ``fetching`` (the
fetch queue), ``outgoing`` (the outbox) and ``snapshots``; ``Replicator`` is all of them.
"""

from __future__ import annotations

from core.federation.curated_intake import CuratedIntake
from core.federation.event_types import (
    BOOST_EVENT,
    DIGEST_EVENT,
    HAVE_EVENT,
    INSTANCE_EVENT,
    MAX_ATTEMPTS,
    SNAPSHOT_STATE,
    TOMBSTONE_EVENT,
    TRACK_EVENT,
)
from core.federation.fetching import Fetching
from core.federation.outgoing import Outgoing
from core.federation.page_intake import PageIntake
from core.federation.snapshots import Snapshots

__all__ = [
    "BOOST_EVENT",
    "DIGEST_EVENT",
    "HAVE_EVENT",
    "INSTANCE_EVENT",
    "MAX_ATTEMPTS",
    "SNAPSHOT_STATE",
    "TOMBSTONE_EVENT",
    "TRACK_EVENT",
    "Replicator",
]


class Replicator(Snapshots, PageIntake, Fetching, Outgoing, CuratedIntake):
    """Federation of one instance: peers, intake, fetching, the outbox and snapshots."""
