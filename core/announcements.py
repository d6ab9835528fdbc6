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
from core.replies import Post, Reply
from core.services.digest import DigestService
from core.services.sharing import card_reply
from core.services.voting import VotingService, rules_text, when_text
from core.visibility import is_public
from core.voting_model import BallotType


@dataclass(frozen=True)
class AnnouncementRules:
    """What the community wants announced."""

    replicated_tracks: bool = True  # peers' tracks in their genre channels, "from <peer>"


def track_post(track: Track, text: str) -> Post:
    """A track card for its genre's channel (or the default one)."""
    return Post(f"genre:{track.genre}" if track.genre else "default", card_reply(track, text=text))


class Announcements:
    """Turns events into the posts every chat surface makes."""

    def __init__(self, tracks: TrackRepository, voting: VotingService | None, digest: DigestService | None,
                 rules: AnnouncementRules = AnnouncementRules()) -> None:
        self._tracks = tracks
        self._voting = voting
        self._digest = digest
        self._rules = rules

    async def posts_for(self, recorded: RecordedEvent) -> list[Post]:
        """The posts one event makes (none for most moderation events)."""
        event = recorded.event
        kind = event.kind
        if kind in (EventKind.TRACK_ACCEPTED, EventKind.TRACK_APPROVED, EventKind.TRACK_REPLICATED):
            return await self._track_posts(recorded)
        if event.round_id is not None and self._voting is not None:
            return await self._round_posts(kind, event.round_id)
        if kind is EventKind.DIGEST_PUBLISHED and self._digest is not None and event.week_ending is not None:
            return [Post("digest", await self._digest.build(until=event.week_ending))]
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
        if kind is EventKind.ROUND_STARTED:
            return [Post(target, Reply(
                title=f"Round {rnd.label} is open for submissions",
                text=rules_text(rnd)
                + f"\nSubmit with `round submit {rnd.id} <track>` until {when_text(rnd.submit_until)}."))]
        if kind is EventKind.ROUND_VOTING_OPENED:
            entries = await self._voting.entries(rnd)
            posts = [Post(target, Reply(
                title=f"Voting is open: round {rnd.label}",
                text=f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}. "
                f"Vote until {when_text(rnd.vote_until)}"
                + (f" — up to {rnd.rules.max_approvals} approvals each." if rnd.rules.ballot is BallotType.APPROVAL
                   else " — score each entry 1-5.")))]
            for entry in entries:
                posts.append(Post(target, await self._voting.entry_reply(rnd, entry)))
            return posts
        if kind is EventKind.ROUND_CLOSED:
            if not await self._voting.entries(rnd):
                return [Post(target, Reply(title=f"Round {rnd.label} closed", text="No entries were submitted."))]
            return [Post(target, await self._voting.results_reply(rnd))]
        return []
