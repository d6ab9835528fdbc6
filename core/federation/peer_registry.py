"""The replicator's state and its peer registry: who is who in the federation rooms.

An instance publishes its key as a state event; an event is taken from a peer only when
its sender owns the key it is signed with (``_peer_for``).

The instance event proves that its sender holds the key: ``proof`` is the key's signature
over the sender's Matrix id (``key_proof_message``). Copying another instance's key into
one's own instance event therefore fails (the proof names the owner's account), so nobody
can bind a key first and lock its owner out. The proof is not bound to a room: replaying it
needs the owner's account, which can publish the key anyway.

An account's first key stays its binding: a new key from the same account (its homeserver
admin, say) is refused, unless the event carries a ``rotation`` signed by the key bound now
(``rotation_message``): the old binding is then retired and the new key counts.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from core.events.ports import EventLog
from core.federation.manifest import (
    IdForKey,
    Signer,
    Verify,
    canonical_json,
    check_signature,
)
from core.federation.policy import FederationPolicy
from core.federation.ports import BlobSource, FederationStore, FederationTransport, Peer
from core.ports import BlobPool, Clock, TrackRepository

if TYPE_CHECKING:
    from core.federation.curated import CuratedFederation

log = logging.getLogger(__name__)

KEY_PROOF_PURPOSE = "org.wavepool.instance.proof"
KEY_ROTATION_PURPOSE = "org.wavepool.instance.rotation"


def key_proof_message(user_id: str, public_key_b64: str) -> bytes:
    """The bytes an instance key signs to say "this Matrix account speaks for me"."""
    return canonical_json({"purpose": KEY_PROOF_PURPOSE, "user_id": user_id, "public_key": public_key_b64})


def key_proof(signer: Signer, user_id: str) -> str:
    """The ``proof`` of an instance event sent by ``user_id``."""
    return signer.sign(key_proof_message(user_id, signer.public_key_b64))


def rotation_message(user_id: str, previous_key_b64: str, public_key_b64: str) -> bytes:
    """The bytes the old key signs to hand ``user_id``'s binding over to the new key."""
    return canonical_json(
        {
            "purpose": KEY_ROTATION_PURPOSE,
            "user_id": user_id,
            "previous_key": previous_key_b64,
            "public_key": public_key_b64,
        }
    )


def rotation(previous: Signer, new_key_b64: str, user_id: str) -> dict[str, str]:
    """The ``rotation`` field of an instance event moving ``user_id`` from ``previous``'s key to the new one."""
    message = rotation_message(user_id, previous.public_key_b64, new_key_b64)
    return {"previous_key": previous.public_key_b64, "signature": previous.sign(message)}


class PeerRegistry:
    """The replicator's collaborators and state, and the peers it knows."""

    def __init__(
        self,
        *,
        signer: Signer,
        name: str,
        community: str,
        homepage: str,
        user_id: str,
        store: FederationStore,
        tracks: TrackRepository,
        pool: BlobPool,
        clock: Clock,
        policy: FederationPolicy,
        sources: BlobSource,
        verify: Verify,
        id_for_key: IdForKey,
        events: EventLog,
        public_url: str | None = None,
        transport: FederationTransport | None = None,
        on_queued: Callable[[], None] | None = None,
        curation: CuratedFederation | None = None,
    ) -> None:
        self._signer = signer
        self.name = name
        self._community = community
        self._homepage = homepage
        self.user_id = user_id
        self.store = store
        self._tracks = tracks
        self._pool = pool
        self._clock = clock
        self.policy = policy
        self._sources = sources
        self._verify = verify
        self._id_for_key = id_for_key
        self._public_url = public_url.rstrip("/") if public_url else None
        self._events = events
        self.transport = transport
        self.on_queued = on_queued  # wakes the fetch worker
        self.curation = curation  # issue 17: boosts and lineage in manifests; None: curation off
        self.failed_fetches = 0
        self.rejected_events = 0
        self._peers_by_user: dict[str, Peer] = {}  # the store's account -> peer answers, cached

    # -- identity ----------------------------------------------------------------------

    def instance_state(self, rotated_from: Signer | None = None) -> dict[str, Any]:
        """Content of this instance's ``org.wavepool.instance`` state event (``rotated_from``: the key it replaces)."""
        state: dict[str, Any] = {
            "instance": self._signer.instance_id,
            "public_key": self._signer.public_key_b64,
            "name": self.name,
            "community": self._community,
            "homepage": self._homepage,
            "proof": key_proof(self._signer, self.user_id),
        }
        if rotated_from is not None:
            state["rotation"] = rotation(rotated_from, self._signer.public_key_b64, self.user_id)
        return state

    async def handle_instance(self, sender: str, state_key: str, content: Mapping[str, Any]) -> Peer | None:
        """Register a peer: the state key is the sender, the id matches the key, the proof holds."""
        if state_key != sender:
            log.warning("instance event of %s with state key %s ignored", sender, state_key)
            return None
        key = content.get("public_key")
        claimed = content.get("instance")
        if not isinstance(key, str) or not isinstance(claimed, str):
            return None
        try:
            derived = self._id_for_key(base64.b64decode(key + "=" * (-len(key) % 4), validate=True))
        except ValueError:  # binascii.Error is a ValueError
            return None
        if derived != claimed:
            log.warning("instance event of %s claims %s but its key is %s; ignored", sender, claimed, derived)
            self.rejected_events += 1
            return None
        proof = content.get("proof")
        if not self._proves(sender, key, proof):
            # A copied key carries its owner's proof (or none): the sender does not hold the key.
            log.warning("instance event of %s does not prove it holds the key of %s; ignored", sender, claimed)
            self.rejected_events += 1
            return None
        known = await self.store.peer_by_instance(claimed)
        if known is not None and known.user_id != sender:
            log.warning("key of %s is registered to %s; %s cannot claim it", claimed, known.user_id, sender)
            self.rejected_events += 1
            return None
        peer = Peer(
            claimed,
            sender,
            key,
            str(content.get("name") or claimed)[:100],
            str(content.get("community") or "")[:200],
            str(content.get("homepage") or "")[:300],
        )
        current = await self.store.peer_by_user(sender)
        if current is not None and current.instance_id != claimed:
            if not self._rotates(sender, current.public_key, key, content.get("rotation")):
                # an account's key changes only by the key it has now: a stolen account cannot rebind
                log.warning("%s published a new key without a rotation signed by its current key; ignored", sender)
                self.rejected_events += 1
                return None
            log.info("%s rotated its key: %s -> %s", sender, current.instance_id, claimed)
            await self.store.rotate_peer(current.instance_id, peer, self._clock.now())
        else:
            await self.store.upsert_peer(peer, self._clock.now())
        self._peers_by_user.pop(sender, None)  # the store decides which binding of the account counts
        return peer

    def _rotates(self, sender: str, current_key: str, key: str, rotation: object) -> bool:
        if not isinstance(rotation, Mapping) or rotation.get("previous_key") != current_key:
            return False
        signature = rotation.get("signature")
        if not isinstance(signature, str):
            return False
        try:
            message = rotation_message(sender, current_key, key)
        except ValueError:
            return False
        return self._verify(current_key, signature, message)

    def _proves(self, sender: str, key: str, proof: object) -> bool:
        if not isinstance(proof, str):
            return False
        try:
            message = key_proof_message(sender, key)
        except ValueError:  # a sender that is not valid UTF-8 (lone surrogates) cannot have signed
            return False
        return self._verify(key, proof, message)

    async def _peer(self, sender: str) -> Peer | None:
        peer = self._peers_by_user.get(sender)
        if peer is None:
            peer = await self.store.peer_by_user(sender)
            if peer is not None:
                self._peers_by_user[sender] = peer
        return peer

    async def _peer_for(self, sender: str, document: Mapping[str, Any]) -> Peer | None:
        peer = await self._peer(sender)
        if peer is None:
            log.warning("event from %s, which has published no instance key; ignored", sender)
            return None
        if self.policy.is_blocked(peer.instance_id, sender):
            return None
        if not check_signature(document, peer.public_key, self._verify):
            log.warning("bad signature on an event from %s (%s); ignored", sender, peer.instance_id)
            self.rejected_events += 1
            return None
        await self.store.touch_peer(sender, self._clock.now())  # "last seen" means last heard from
        return peer
