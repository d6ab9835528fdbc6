"""Curation commands: reputation, curators, boost, unboost, discover, similar, lineage; and
``share --remix-of`` (the share command hands a derived share to ``share_derived``)."""

from __future__ import annotations

import re
from dataclasses import replace

from core.app import App
from core.commands.common import arg, need, sharer_of, viewer_of
from core.commands.declaration import (
    AutocompleteSource,
    Command,
    Invocation,
    Param,
    ParamKind,
    Permission,
    Reply,
    Suggestion,
)
from core.curation_ports import Relation
from core.errors import PermissionDeniedError, UsageError
from core.model import Declaration, Sharer, Track
from core.services.curation import Curation
from core.services.lineage import relation_of
from core.services.sharing import ShareOutcome, ShareStatus
from core.views.curation import (
    boost_reply,
    discover_reply,
    family_fields,
    leaderboard_reply,
    lineage_reply,
    reputation_reply,
    similar_reply,
)
from core.views.tracks import share_reply
from core.visibility import Viewer, is_public

_MENTION = re.compile(r"^<@!?(\d+)>$")  # a Discord mention typed as text
RELATIONS = tuple(r.value for r in Relation)


def _curation(app: App) -> Curation:
    curation: Curation = need(app.curation, "curation")
    return curation


def _member_ref(inv: Invocation, text: str) -> Sharer:
    text = text.strip()
    found = _MENTION.match(text)
    return Sharer(inv.platform, found.group(1) if found else text, text)


async def share_derived(app: App, inv: Invocation, declaration: Declaration) -> Reply:
    """Share the attached files (or link) as remixes/stems/... of ``remix_of``, and link them."""
    curation = _curation(app)
    relation = relation_of(arg(inv, "relation"))
    parent_cid, parent = await curation.lineage.resolve_parent(str(arg(inv, "remix_of")), viewer_of(inv))
    outcomes: list[ShareOutcome] = []
    files = inv.attachments if relation is Relation.STEMS else inv.attachments[:1]
    for attachment in files:
        stem_declaration = declaration
        if relation is Relation.STEMS and not declaration.title:
            stem_declaration = Declaration(
                declaration.generator, declaration.prompt, declaration.style, declaration.genre, attachment.filename
            )
        outcomes.append(
            await app.share.share_file(
                attachment.path,
                sharer_of(inv),
                stem_declaration,
                inv.place,
                filename=attachment.filename,
                source_url=attachment.source_url or inv.message_ref,
            )
        )
    url = arg(inv, "url")
    if not files and url:
        outcomes.append(await app.share.share_url(str(url), sharer_of(inv), declaration, inv.place))
    if not outcomes:
        raise UsageError("attach an audio file (stems: several) or give a link to share")
    linked = 0
    for outcome in outcomes:
        if outcome.status in (ShareStatus.ADDED, ShareStatus.HELD):
            linked += await curation.lineage.link(outcome.track, parent_cid, relation)
    first = share_reply(outcomes[0])
    parent_name = parent.title if parent is not None else f"{parent_cid[:16]}… from another community"
    what = f"{linked} stem{'s' if linked != 1 else ''}" if relation is Relation.STEMS else f"a {relation.value}"
    note = f"Linked as {what} of {parent_name}." if linked else "Not linked: the track was already in the pool."
    return Reply(
        text=f"{first.text}\n{note}".strip(),
        cards=first.cards,
        buttons=first.buttons,
        data={**first.data, "linked": linked, "parent_cid": parent_cid, "tracks": [o.track.id for o in outcomes]},
    )


def curation_commands(app: App) -> list[Command]:
    """Declarations of the curation commands."""

    async def reputation(inv: Invocation) -> Reply:
        curation = _curation(app)
        who = sharer_of(inv)
        ref = arg(inv, "member")
        own = not ref or _member_ref(inv, ref).user_id == inv.user_id
        if not own:
            if inv.permission < Permission.MODERATOR:
                raise PermissionDeniedError("you can see your own reputation; moderators can see anyone's")
            who = _member_ref(inv, ref)
            known = await app.tracks.by_sharer(who.platform, who.user_id, limit=1)
            if known:  # a name members recognise rather than a platform id
                who = known[0].sharer
        rep = await curation.reputation.of(who)
        return reputation_reply(who.display_name, rep, own, curation.reputation.min_reputation)

    async def curators(inv: Invocation) -> Reply:
        rows = await _curation(app).reputation.leaderboard()
        names = []
        for (platform, user_id), score in rows:
            tracks = await app.tracks.by_sharer(platform, user_id, limit=1)
            names.append((tracks[0].sharer.display_name if tracks else user_id, score))
        return leaderboard_reply(names)

    async def boost(inv: Invocation) -> Reply:
        moderator = inv.permission >= Permission.MODERATOR
        outcome = await _curation(app).reputation.boost(str(arg(inv, "track")), sharer_of(inv), moderator=moderator)
        return boost_reply(outcome)

    async def unboost(inv: Invocation) -> Reply:
        outcome = await _curation(app).reputation.boost(str(arg(inv, "track")), sharer_of(inv), withdraw=True)
        return boost_reply(outcome, withdrawn=True)

    async def discover(inv: Invocation) -> Reply:
        return discover_reply(await _curation(app).recommendations.discover(sharer_of(inv)))

    async def similar(inv: Invocation) -> Reply:
        source, found = await _curation(app).recommendations.similar(str(arg(inv, "track")), viewer_of(inv))
        return similar_reply(source, found)

    async def lineage(inv: Invocation) -> Reply:
        curation = _curation(app)
        viewer = viewer_of(inv)
        _, track = await curation.lineage.resolve_parent(str(arg(inv, "track")), viewer)
        if track is None:
            raise UsageError("that track is not in this pool; ask for the lineage of one that is")
        nodes = await curation.lineage.tree(track, viewer)
        return lineage_reply(track, nodes, await curation.lineage.family(track, viewer))

    track_param = Param("track", ParamKind.TRACK, "track id or pool address", autocomplete="tracks")
    return [
        Command(
            "reputation",
            "Your curator reputation and why (moderators: anyone's)",
            reputation,
            (Param("member", ParamKind.USER, "a member (moderators)", required=False),),
        ),
        Command("curators", "The community's best curators (when the community shows them)", curators),
        Command("boost", "Flag a track for wider distribution (needs reputation)", boost, (track_param,)),
        Command("unboost", "Withdraw your boost of a track", unboost, (track_param,)),
        Command("discover", "Up to 10 tracks picked for you from everyone's votes", discover),
        Command("similar", "Tracks liked by the same people, or with a close prompt", similar, (track_param,)),
        Command("lineage", "A track's remix tree: its parent and everything derived from it", lineage, (track_param,)),
    ]


def track_suggestions(app: App) -> AutocompleteSource:
    """The ``tracks`` autocomplete source: public tracks whose title matches what was typed."""

    async def tracks(inv: Invocation, text: str) -> list[Suggestion]:
        if not text.strip():
            return [(f"{t.title} ({t.id[:8]})"[:100], t.id) for t in await app.tracks.recent(limit=25) if is_public(t)]
        return [
            (f"{t.title} ({t.id[:8]})"[:100], t.id) for t in await app.tracks.search(text, limit=25) if is_public(t)
        ]

    return tracks


async def with_curation_lines(app: App, reply: Reply, track: Track, viewer: Viewer) -> Reply:
    """A track card's reply with its parent, children ("3 remixes"), stems and boost count."""
    if app.curation is None:
        return reply
    fields = family_fields(await app.curation.lineage.family(track, viewer))
    boosts = (await app.curation.reputation.boost_counts([track.id])).get(track.id, 0)
    parts = [f"by {boosts} curator{'s' if boosts != 1 else ''}"] if boosts else []
    if track.origin_instance != app.instance:  # a peer's track: also the count its origin signed
        theirs = await app.curation.store.peer_boosts(track.cid)
        if theirs:
            parts.append(f"by {theirs} curator{'s' if theirs != 1 else ''} at its origin")
    if parts:
        fields.append(("Boosted", " · ".join(parts)))
    return replace(reply, fields=reply.fields + tuple(fields)) if fields else reply
