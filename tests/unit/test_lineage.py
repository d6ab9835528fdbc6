"""Remix lineage: links, families, trees, most remixed, the event that tells the parent's sharer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.curation_ports import Relation
from core.errors import NotFoundError, UsageError
from core.events.model import EventKind, Origin
from core.federation.manifest import canonical_json, with_curation
from core.model import Cid
from core.services.digest import DigestSchedule, DigestService
from core.services.lineage import lineage_manifest_field, relation_of
from core.views.digest import digest_reply
from core.visibility import Viewer
from storage.memory import MemoryKeyValue
from tests.support.curation import World, people, world


@pytest.fixture(params=["memory", "sqlite"])
async def w(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with world(request.param, tmp_path) as built:
        yield built


async def test_a_remix_links_to_its_parent_and_records_the_event(w: World) -> None:
    alice, bob = people("alice", 1)[0], people("bob", 1)[0]
    original = await w.share(alice, "Original")
    remix = await w.share(bob, "Remix")
    lineage = w.curation.lineage
    assert await lineage.link(remix, original.cid, Relation.REMIX)
    assert not await lineage.link(remix, original.cid, Relation.COVER)  # one parent; the first stays
    family = await lineage.family(original, Viewer())
    assert [c.child_id for c in family.children] == [remix.id] and family.parent is None
    mine = await lineage.family(remix, Viewer())
    assert mine.parent_track is not None and mine.parent_track.id == original.id
    events = await w.events.after(0)
    assert [(e.kind, e.event.track_id, e.event.origin) for e in events] == [
        (EventKind.TRACK_REMIXED, remix.id, Origin.LOCAL)
    ]
    with pytest.raises(UsageError):
        await lineage.link(original, original.cid, Relation.REMIX)


async def test_the_tree_shows_ancestors_the_track_and_descendants(w: World) -> None:
    a, b, c = people("a", 1)[0], people("b", 1)[0], people("c", 1)[0]
    root = await w.share(a, "Root")
    child = await w.share(b, "Child")
    grandchild = await w.share(c, "Grandchild")
    stem = await w.share(c, "Drums stem")
    lineage = w.curation.lineage
    await lineage.link(child, root.cid, Relation.REMIX)
    await lineage.link(grandchild, child.cid, Relation.EXTEND)
    await lineage.link(stem, child.cid, Relation.STEMS)
    nodes = await lineage.tree(child, Viewer())
    assert [(n.depth, n.track.title if n.track else None, n.relation) for n in nodes] == [
        (-1, "Root", None),
        (0, "Child", Relation.REMIX),
        (1, "Grandchild", Relation.EXTEND),
        (1, "Drums stem", Relation.STEMS),
    ]
    family = await lineage.family(child, Viewer())
    assert [t.title for t in family.stems] == ["Drums stem"]


async def test_a_parent_on_another_instance_is_linked_by_cid(w: World) -> None:
    bob = people("bob", 1)[0]
    remix = await w.share(bob, "Remix of a far track")
    far = Cid("b" + "x" * 58)
    cid, track = await w.curation.lineage.resolve_parent(far, Viewer())
    assert (cid, track) == (far, None)
    await w.curation.lineage.link(remix, cid, Relation.SAMPLE)
    nodes = await w.curation.lineage.tree(remix, Viewer())
    assert [(n.cid, n.track) for n in nodes][0] == (far, None)
    with pytest.raises(NotFoundError):
        await w.curation.lineage.resolve_parent("nothing-like-this", Viewer())


async def test_hidden_children_are_not_shown_and_most_remixed_counts_remixes_not_stems(w: World) -> None:
    a = people("a", 1)[0]
    popular, other = await w.share(a, "Popular"), await w.share(a, "Other")
    for n in range(3):
        remix = await w.share(people(f"r{n}", 1)[0], f"Remix {n}")
        await w.curation.lineage.link(remix, popular.cid, Relation.REMIX)
    hidden = await w.share(people("h", 1)[0], "Hidden remix")
    await w.curation.lineage.link(hidden, popular.cid, Relation.REMIX)
    await w.hide(hidden)
    for n in range(4):
        stem = await w.share(a, f"Stem {n}")
        await w.curation.lineage.link(stem, other.cid, Relation.STEMS)
    family = await w.curation.lineage.family(popular, Viewer())
    assert len(family.children) == 3
    ranked = await w.curation.lineage.most_remixed(w.clock.now() - timedelta(days=7))
    assert [(t.title, n) for t, n in ranked] == [("Popular", 4)]


async def test_lineage_rides_in_the_manifest_only_when_there_is_one() -> None:
    base = {"v": 1, "kind": "track", "title": "x"}
    assert canonical_json(with_curation(base, 0, None)) == canonical_json(base)  # old manifests unchanged
    link_field = {"parent_cid": "bafy", "relation": "cover"}
    assert with_curation(base, 2, link_field) == {**base, "boosts": 2, "lineage": link_field}
    assert lineage_manifest_field(None) is None
    assert relation_of(None) is Relation.REMIX and relation_of("Stems") is Relation.STEMS
    with pytest.raises(UsageError):
        relation_of("mashup")


async def test_the_digest_features_the_most_remixed_track(w: World) -> None:
    a = people("a", 1)[0]
    popular = await w.share(a, "Popular")
    for n in range(2):
        remix = await w.share(people(f"r{n}", 1)[0], f"Remix {n}")
        await w.curation.lineage.link(remix, popular.cid, Relation.REMIX)
    digest = DigestService(
        DigestSchedule(), w.tracks, w.clock, w.events, MemoryKeyValue(), "Club", remixes=w.curation.lineage.most_remixed
    )
    built = await digest.build()
    assert [(t.title, n) for t, n in built.most_remixed] == [("Popular", 2)]
    assert "Most remixed:\n• Popular — A0 (2 remixes)" in digest_reply(built).text
    assert built.to_data()["most_remixed"] == [{"track": popular.id, "title": "Popular", "remixes": 2}]
