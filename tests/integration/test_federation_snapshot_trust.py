"""Snapshots relay other instances' manifests: local policy still applies to each entry,
and one malformed line does not throw the rest away."""

from __future__ import annotations

from pathlib import Path

from core.cid import cid_of
from core.federation.manifest import canonical_json, manifest_for, sign
from core.federation.policy import FederationPolicy
from core.model import Cid
from tests.contract import test_replication as replication

net = replication.net  # three replicators around a fake room (the fixtures of the contract tests)
make_node = replication.make_node
_local_track = replication._local_track


async def _snapshot_of(node, tmp: Path) -> tuple[Cid, str]:
    """``node`` builds its snapshot; it is served under an mxc id of the fake room."""
    cid, _count, path = await node.rep.build_snapshot(tmp / "work")
    mxc = f"mxc://hs/snapshot-{cid[-6:]}"
    node.room.media[mxc] = path.read_bytes()
    return cid, mxc


async def test_a_blocked_origin_does_not_come_back_through_another_peers_snapshot(net, tmp_path: Path) -> None:
    a, b, c = net
    track = await _local_track(a, b"blocked origin " * 300)
    await a.rep.publish_track(track)
    await a.rep.flush_outbox()
    assert await b.read() == ["queued"]
    c.rep.policy = FederationPolicy(blocked=(a.identity.instance_id,))
    await c.read()  # c sees the same event from a itself and ignores it
    assert await c.rep.store.queue_size() == 0
    cid, mxc = await _snapshot_of(b, tmp_path)
    assert await c.rep.load_snapshot(cid, {"mxc": mxc}) == 0
    assert await c.rep.store.queue_size() == 0


async def test_a_malformed_snapshot_line_skips_only_itself(net, tmp_path: Path) -> None:
    a, b, c = net
    track = await _local_track(b, b"good entry " * 300)
    good = sign(manifest_for(track, [{"mxc": "mxc://hs/none"}], "b"), b.identity)
    body = b"[1, 2]\n" + b'"text"\n' + b"{not json\n" + b"[" * 100_000 + b"\n" + canonical_json(good) + b"\n"
    cid = cid_of(body)
    a.room.media["mxc://hs/odd-snapshot"] = body
    await c.read()  # the instance keys
    assert await c.rep.load_snapshot(cid, {"mxc": "mxc://hs/odd-snapshot"}) == 1
    assert await c.rep.store.queue_size() == 1
