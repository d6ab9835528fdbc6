"""What each event looks like in chat, platform-free: a recorded event becomes ``Post``s.

Both chat subscribers (Discord, Matrix) ask this module, then render the posts their own
way (embeds, HTML) and send them where ``GenreService.destination`` maps each target on
their platform. Services only record events; the words members read are built here.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.events.model import EventKind, Origin, RecordedEvent
from core.model import Track
from core.ports import TrackRepository
from core.replies import Post
from core.services.digest import DigestService
from core.services.federated_rounds import FederatedRoundService
from core.services.lineage import LineageService
from core.services.voting import VotingService
from core.views.curation import remix_posts
from core.views.digest import digest_reply
from core.views.federated_rounds import arrival_posts, federated_posts
from core.views.page_links import with_page_link
from core.views.rounds import (
    closed_empty_reply,
    entry_reply,
    results_reply,
    started_reply,
    voting_open_reply,
)
from core.views.tracks import card_reply
from core.visibility import is_public


@dataclass(frozen=True)
class AnnouncementRules:
    """What the community wants announced."""

    replicated_tracks: bool = True  # peers' tracks in their genre channels, "from <peer>"
    public_url: str | None = None  # posts link to the web pages when set ([http] public_url)


def track_post(track: Track, text: str) -> Post:
    """A track card for its genre's channel (or the default one)."""
    return Post(f"genre:{track.genre}" if track.genre else "default", card_reply(track, text=text))


class Announcements:
    """Turns events into the posts every chat surface makes."""

    def __init__(
        self,
        tracks: TrackRepository,
        voting: VotingService | None,
        digest: DigestService | None,
        rules: AnnouncementRules = AnnouncementRules(),
        federated: FederatedRoundService | None = None,
        lineage: LineageService | None = None,
    ) -> None:
        self._federated = federated
        self._lineage = lineage  # issue 17: remixes are announced to the parent's sharer
        self._tracks = tracks
        self._voting = voting
        self._digest = digest
        self._rules = rules

    async def posts_for(self, recorded: RecordedEvent) -> list[Post]:
        """The posts one event makes (none for most moderation events), linked to their web pages."""
        return [with_page_link(post, self._rules.public_url) for post in await self._posts_for(recorded)]

    async def _posts_for(self, recorded: RecordedEvent) -> list[Post]:
        event = recorded.event
        kind = event.kind
        if self._federated is not None and (event.round_id is not None or event.federated_round is not None):
            posts = await federated_posts(self._federated, self._voting, self._tracks, event)
            if posts is not None:
                return posts
        if kind in (EventKind.TRACK_ACCEPTED, EventKind.TRACK_APPROVED, EventKind.TRACK_REPLICATED):
            posts = await self._track_posts(recorded)
            if kind is EventKind.TRACK_REPLICATED and self._federated and self._voting and event.track_id:
                posts += await arrival_posts(self._federated, self._voting, self._tracks, event.track_id)  # issue 18
            return posts
        if kind is EventKind.TRACK_REMIXED and self._lineage is not None:  # issue 17
            return await remix_posts(event, self._tracks, self._lineage)
        if kind is EventKind.TRACK_VERIFIED and event.track_id is not None:
            track = await self._tracks.get(event.track_id)
            if track is None or not is_public(track):
                return []
            return [track_post(track, f"Verified: {track.generator or 'the generator'} confirmed {track.title}")]
        if event.round_id is not None and self._voting is not None:
            return await self._round_posts(kind, event.round_id)
        if kind is EventKind.DIGEST_PUBLISHED and self._digest is not None and event.week_ending is not None:
            return [Post("digest", digest_reply(await self._digest.build(until=event.week_ending)))]
        return []

    async def _track_posts(self, recorded: RecordedEvent) -> list[Post]:
        event = recorded.event
        track = await self._tracks.get(event.track_id) if event.track_id else None
        if track is None or not is_public(track):
            return []  # taken down or rejected since: never announced
        if event.origin is Origin.PEER or event.kind is EventKind.TRACK_REPLICATED:
            if not self._rules.replicated_tracks:
                return []
            genre = f"{track.genre} " if track.genre else ""
            return [track_post(track, f"New {genre}track from {event.peer or 'a peer community'}")]
        genre = f"{track.genre} " if track.genre else ""
        return [track_post(track, f"New {genre}track shared by {track.sharer.display_name}")]

    async def _round_posts(self, kind: EventKind, round_id: int) -> list[Post]:
        assert self._voting is not None
        rnd = await self._voting.get(round_id)
        target = f"round:{rnd.id}"
        here = (rnd.created_by.platform, rnd.place)  # a round's posts go where it started, unless configured
        if kind is EventKind.ROUND_STARTED:
            return [Post(target, fallback=here, reply=started_reply(rnd))]
        if kind is EventKind.ROUND_VOTING_OPENED:
            entries = await self._voting.entries(rnd)
            posts = [Post(target, fallback=here, reply=voting_open_reply(rnd, len(entries)))]
            posts += [
                Post(target, fallback=here, reply=await entry_reply(self._tracks, rnd, entry)) for entry in entries
            ]
            return posts
        if kind is EventKind.ROUND_CLOSED:
            if not await self._voting.entries(rnd):
                return [Post(target, fallback=here, reply=closed_empty_reply(rnd))]
            return [Post(target, fallback=here, reply=await results_reply(self._voting, self._tracks, rnd))]
        return []
