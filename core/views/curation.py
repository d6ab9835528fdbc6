"""Curation as members read it: reputation with reasons, recommendations, lineage trees, boosts."""

from __future__ import annotations

from collections.abc import Sequence

from core.curation_ports import Relation
from core.events.model import DomainEvent, Origin
from core.model import Track
from core.ports import TrackRepository
from core.recommend import Because
from core.replies import Post, Reply, mention
from core.reputation_model import Reputation
from core.services.lineage import Family, LineageService, Node
from core.services.recommendations import Recommendation
from core.services.reputation import BoostOutcome
from core.views.tracks import card_reply
from core.visibility import is_public

RELATION_WORDS = {
    Relation.REMIX: ("remix", "remixes"),
    Relation.EXTEND: ("extension", "extensions"),
    Relation.COVER: ("cover", "covers"),
    Relation.SAMPLE: ("track sampling it", "tracks sampling it"),
    Relation.STEMS: ("stem", "stems"),
}


def _short(track: Track) -> str:
    return f"{track.title} — {track.sharer.display_name} ({track.id[:8]})"


def reputation_reply(name: str, rep: Reputation, own: bool, min_boost: float) -> Reply:
    """A member's reputation and why (private: it is nobody else's business)."""
    lines = [f"{'+' if r.points >= 0 else '−'}{abs(r.points):.1f}  {r.text}" for r in rep.reasons]
    if not lines:
        lines.append("Nothing yet: share tracks the community votes up, and vote early for tracks you love.")
    if own:
        can = "You can boost tracks." if rep.score >= min_boost else f"Boosting opens at {min_boost:g}."
        lines.append(can)
    title = "Your reputation" if own else f"Reputation of {name}"
    return Reply(
        title=f"{title}: {rep.score:g}",
        text="\n".join(lines),
        private=True,
        data={"score": rep.score, "reasons": [[r.points, r.text] for r in rep.reasons]},
    )


def _because_line(rec: Recommendation) -> str:
    if rec.because is Because.LIKED and rec.because_track is not None:
        return f"because you liked {rec.because_track.title}"
    if rec.because is Because.WORDS and rec.because_track is not None:
        return f"its prompt is close to {rec.because_track.title}'s"
    if rec.because is Because.GENRE:
        return f"popular in {rec.track.genre or 'your genre'}"
    return "popular in the pool"


def discover_reply(found: Sequence[Recommendation]) -> Reply:
    """Up to ten tracks for the member, each with one line of why."""
    lines = [f"{_short(r.track)} · {_because_line(r)}" for r in found]
    return Reply(
        title="Picked for you",
        text="\n".join(lines) if lines else "Nothing to recommend yet: vote for a few tracks you like.",
        cards=tuple(r.track for r in found[:3]),
        private=True,
        data={"tracks": [r.track.id for r in found], "because": [r.because.value for r in found]},
    )


def similar_reply(source: Track, found: Sequence[Recommendation]) -> Reply:
    """Tracks like one track."""
    lines = [
        f"{_short(r.track)} · {'liked by the same people' if r.because is Because.LIKED else 'a close prompt'}"
        for r in found
    ]
    return Reply(
        title=f"Like {source.title}",
        text="\n".join(lines) if lines else "Nothing like it yet.",
        cards=tuple(r.track for r in found[:3]),
        data={"tracks": [r.track.id for r in found]},
    )


def family_fields(family: Family, children_of_kind: dict[Relation, int] | None = None) -> list[tuple[str, str]]:
    """Card lines: the parent, and the children by relation ("3 remixes · 2 stems")."""
    fields: list[tuple[str, str]] = []
    if family.parent is not None:
        word = RELATION_WORDS[family.parent.relation][0]
        parent = (
            _short(family.parent_track) if family.parent_track else f"{family.parent.parent_cid} (another community)"
        )
        fields.append((f"A {word} of", parent))
    counts: dict[Relation, int] = dict(children_of_kind or {})
    if children_of_kind is None:
        for link in family.children:
            counts[link.relation] = counts.get(link.relation, 0) + 1
    if counts:
        parts = [f"{n} {RELATION_WORDS[r][0 if n == 1 else 1]}" for r, n in counts.items()]
        fields.append(("Derived", " · ".join(parts)))
    if family.stems:
        fields.append(("Stems", "\n".join(f"{t.title} ({t.id[:8]})" for t in family.stems[:12])))
    return fields


def lineage_reply(track: Track, nodes: Sequence[Node], family: Family) -> Reply:
    """The tree: ancestors, the track, descendants, indented."""
    lines = []
    base = min((n.depth for n in nodes), default=0)
    for node in nodes:
        indent = "  " * (node.depth - base)
        name = _short(node.track) if node.track else f"{node.cid[:16]}… (another community)"
        rel = f"[{node.relation.value}] " if node.relation else ""
        mark = "▶ " if node.depth == 0 else ""
        lines.append(f"{indent}{mark}{rel}{name}")
    return Reply(
        title=f"Lineage of {track.title}",
        text="\n".join(lines),
        fields=tuple(family_fields(family)),
        data={"nodes": [[n.depth, n.cid, n.relation.value if n.relation else None] for n in nodes]},
    )


def boost_reply(outcome: BoostOutcome, withdrawn: bool = False) -> Reply:
    """What the curator reads after boosting."""
    n = outcome.boosts
    count = f"{n} curator{'s' if n != 1 else ''}"
    if withdrawn:
        text = f"Boost withdrawn from {outcome.track.title} (boosted by {count})."
    else:
        text = f"Boosted {outcome.track.title}: boosted by {count}."
    return Reply(text=text, data={"track": outcome.track.id, "boosts": n})


def leaderboard_reply(rows: Sequence[tuple[str, float]]) -> Reply:
    """The best curators (only when the community turned the leaderboard on)."""
    lines = [f"{i}. {name} — {score:g}" for i, (name, score) in enumerate(rows, start=1)]
    return Reply(title="Curators", text="\n".join(lines) or "No curators yet.")


async def remix_posts(event: DomainEvent, tracks: TrackRepository, lineage: LineageService) -> list[Post]:
    """``TRACK_REMIXED``: tell the parent's sharer, in the parent's genre channel, who derived what."""
    if event.track_id is None:
        return []
    child = await tracks.get(event.track_id)
    link = await lineage.link_of_id(event.track_id)
    if link is None:
        return []
    parent = next((t for t in await tracks.find_by_cid(link.parent_cid) if is_public(t)), None)
    if parent is None:
        return []  # not one of ours (or hidden): nobody here to tell
    word = RELATION_WORDS[link.relation][0]
    # a mention on the sharer's own platform (so they are notified), their name on the others
    who = mention(parent.sharer.platform, parent.sharer.user_id, parent.sharer.display_name)
    target = f"genre:{parent.genre}" if parent.genre else "default"
    where = f" on {event.peer}" if event.origin is Origin.PEER and event.peer else ""
    if child is not None and is_public(child):
        text = (
            f"🔁 {who}, your track {parent.title} has a new {word}{where}: {child.title} by {child.sharer.display_name}"
        )
        return [Post(target, card_reply(child, text=text))]
    if event.origin is Origin.PEER:
        text = f"🔁 {who}, your track {parent.title} has a new {word} in a peer community{where}"
        return [Post(target, Reply(text=text, data={"parent": parent.id, "child": event.track_id}))]
    return []
