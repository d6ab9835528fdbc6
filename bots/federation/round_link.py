"""Cross-community rounds on the federation's Matrix account: building their exchange and
sending the documents it queued."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bots.federation.matrix_api import MatrixApi
from bots.instance import Instance
from core.federation.ports import Peer
from core.federation.replication import Replicator
from core.federation.round_exchange import RoundExchange
from storage.identity import verify_signature

log = logging.getLogger(__name__)


def build_round_exchange(instance: Instance, replicator: Replicator, api: MatrixApi) -> RoundExchange | None:
    """The exchange of an instance's federated rounds (None when it runs none)."""
    service = instance.app.federated_rounds
    if service is None:
        return None

    async def peer_of(sender: str) -> Peer | None:
        peer = await replicator.store.peer_by_user(sender)
        if peer is None or replicator.policy.is_blocked(peer.instance_id, sender):
            return None
        return peer

    return RoundExchange(service, instance.identity, verify_signature, peer_of, api.user_id, instance.app.clock)


async def send_round_documents(exchange: RoundExchange, api: MatrixApi) -> int:
    """Sign and send what the federated rounds queued (a room alias is joined to find its id)."""
    rooms: dict[str, str] = {}

    async def send(room: str, event_type: str, content: Mapping[str, Any]) -> str:
        if room not in rooms:
            rooms[room] = room if room.startswith("!") else await api.join(room)
        return await api.send(rooms[room], event_type, content)

    sent = await exchange.flush(send)
    if sent:
        log.info("federated rounds: %d document(s) sent", sent)
    return sent
