"""The weekly digest: the week's most voted tracks, round results and top prompts.

It is due at a weekday and time in a time zone (config). ``publish_due`` publishes the
digest of the latest due moment unless that one was already published (remembered in a
durable key-value store, in the same transaction as its ``DIGEST_PUBLISHED`` event), so a
digest missed while the instance was down goes out at start-up, and a restart never sends
it twice. The bots and the federation hear of it from the outbox.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from core.events.model import DomainEvent, EventKind
from core.events.ports import EventLog
from core.model import Track, TrackId
from core.ports import Clock, KeyValue, PeerDigests, TrackRepository
from core.recent_value import RecentValue
from core.visibility import is_public
from core.voting_model import Phase, Round

if TYPE_CHECKING:
    from core.services.prompts import PromptService
    from core.services.voting import VotingService

MostRemixed = Callable[[datetime, int], Awaitable[Sequence[tuple[Track, int]]]]
"""(since, limit) -> the public tracks with the most remixes since then, most first."""
BoostCounts = Callable[[Sequence[TrackId]], Awaitable[Mapping[TrackId, int]]]
"""Curators' boosts per track (tracks without boosts left out)."""
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class DigestSchedule:
    """When the digest is due."""

    weekday: str = "mon"
    at: time = time(18, 0)
    timezone: str = "UTC"
    top_n: int = 10

    def latest_due(self, now: datetime) -> datetime:
        """The most recent due moment at or before ``now`` (UTC)."""
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        days_back = (local.weekday() - WEEKDAYS.index(self.weekday)) % 7
        candidate = datetime.combine(local.date() - timedelta(days=days_back), self.at, tzinfo=zone)
        if candidate > local:
            candidate -= timedelta(days=7)
        return candidate.astimezone(ZoneInfo("UTC"))

    def next_due(self, now: datetime) -> datetime:
        """The next due moment after ``now`` (UTC)."""
        return self.latest_due(now) + timedelta(days=7)


@dataclass(frozen=True)
class RoundWin:
    """A round that closed this week, and its leader(s): (title, entrant); several when tied."""

    round: Round
    winners: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Digest:
    """One week of the community, as data; ``core.views.digest`` words it for members."""

    community: str
    week_ending: datetime
    top: tuple[tuple[Track, int], ...]  # (track, votes), best first
    new_tracks: tuple[Track, ...]
    rounds: tuple[RoundWin, ...]
    prompts: tuple[str, ...]
    peers: tuple[tuple[str, list[str]], ...]  # (peer name, its top titles)
    top_n: int = 10
    most_remixed: tuple[tuple[Track, int], ...] = ()  # (track, remixes this week), issue 17
    boosted: Mapping[TrackId, int] = field(default_factory=dict)  # curators' boosts of the listed tracks

    @property
    def title(self) -> str:
        """The digest's name."""
        return f"Weekly digest — {self.community} — week ending {self.week_ending:%Y-%m-%d}"

    @property
    def sharers(self) -> int:
        """Members who shared this week."""
        return len({(t.sharer.platform, t.sharer.user_id) for t in self.new_tracks})

    def per_genre(self) -> dict[str, list[dict[str, object]]]:
        """The three most voted tracks of each genre."""
        out: dict[str, list[dict[str, object]]] = {}
        for track, votes in self.top:
            bucket = out.setdefault(track.genre or "unsorted", [])
            if len(bucket) < 3:
                bucket.append({"track": track.id, "title": track.title, "votes": votes})
        return out

    def to_data(self) -> dict[str, object]:
        """The structured form: kept with the published digest and sent to peers."""
        return {
            "week_ending": self.week_ending.isoformat(),
            "new_tracks": len(self.new_tracks),
            "active_sharers": self.sharers,
            "per_genre": self.per_genre(),
            "top": [
                {"track": t.id, "cid": t.cid, "title": t.title, "votes": v}
                | ({"boosts": self.boosted[t.id]} if self.boosted.get(t.id) else {})
                for t, v in self.top
            ],
            "rounds": [
                {
                    "round": w.round.id,
                    "theme": w.round.rules.theme,
                    "winner": " / ".join(title for title, _ in w.winners),
                }
                for w in self.rounds
            ],
            "prompts": list(self.prompts),
            "peers": [{"peer": name, "top": titles} for name, titles in self.peers],
            **(
                {"most_remixed": [{"track": t.id, "title": t.title, "remixes": n} for t, n in self.most_remixed]}
                if self.most_remixed
                else {}
            ),
        }


# A preview is the digest as it stands, built at most this long ago: a build reads the week's
# votes, tracks, rounds and prompts (~0.5 s at 100,000 tracks and 2,000,000 votes,
# bench/scale.py), too much to repeat for every member who asks within the same minutes.
PREVIEW_MAX_AGE = timedelta(minutes=5)

FederatedWinnersOf = Callable[[Round], Awaitable[tuple[tuple[str, str], ...] | None]]
"""(title, entrant) leaders of a cross-community round; None for a local-only round."""


class DigestService:
    """Builds, previews and publishes the weekly digest."""

    def __init__(
        self,
        schedule: DigestSchedule,
        tracks: TrackRepository,
        clock: Clock,
        events: EventLog,
        state: KeyValue,
        community: str,
        voting: VotingService | None = None,
        prompts: PromptService | None = None,
        peers: PeerDigests | None = None,
        remixes: MostRemixed | None = None,
        boosts: BoostCounts | None = None,
        federated: FederatedWinnersOf | None = None,
    ) -> None:
        self._federated = federated  # issue 18: a cross-community round's winners are the combined results'
        self._boosts = boosts  # issue 17: "boosted by N curators" on the highlights
        self._remixes = remixes  # issue 17: the week's most remixed tracks
        self.schedule = schedule
        self._tracks = tracks
        self._clock = clock
        self._events = events
        self._state = state
        self._community = community
        self._voting = voting
        self._prompts = prompts
        self._peers = peers
        self._preview = RecentValue(
            lambda: self.build(until=self._clock.now()),
            PREVIEW_MAX_AGE.total_seconds(),
            lambda: self._clock.now().timestamp(),
        )

    async def preview(self) -> Digest:
        """The digest as it stands (``digest preview``), built at most ``PREVIEW_MAX_AGE`` ago."""
        return await self._preview.get()  # members asking at once share one build

    async def build(self, until: datetime | None = None) -> Digest:
        """The digest of the seven days before ``until`` (default: now)."""
        end = until or self._clock.now()
        since = end - timedelta(days=7)
        top: list[tuple[Track, int]] = []
        if self._voting is not None:
            for track_id, total, _voters in await self._voting.top_tracks(since, self.schedule.top_n * 2):
                track = await self._tracks.get(track_id)
                if track is not None and is_public(track):
                    top.append((track, total))
        top.sort(key=lambda item: (-item[1], item[0].first_seen_at, item[0].id))  # deterministic ties
        new_tracks = [
            t for t in await self._tracks.recent(limit=5000, since=since) if t.first_seen_at < end and is_public(t)
        ]
        rounds: list[RoundWin] = []
        if self._voting is not None:
            for rnd in await self._voting.recent_rounds(20):
                if rnd.phase is Phase.CLOSED and since <= rnd.vote_until <= end:
                    federated = await self._federated(rnd) if self._federated is not None else None
                    if federated is not None:
                        if federated:
                            rounds.append(RoundWin(rnd, federated))
                        continue
                    standings = await self._voting.standings(rnd)
                    if standings:
                        leaders = [s for s in standings if s.rank == standings[0].rank]
                        titles = []
                        for leader in leaders:
                            winner = await self._tracks.get(leader.entry.track_id)
                            titles.append(
                                (winner.title if winner else leader.entry.track_id, leader.entry.submitter.display_name)
                            )
                        rounds.append(RoundWin(rnd, tuple(titles)))
        prompts: list[str] = []
        if self._prompts is not None:
            try:
                prompts = [p.text for p in await self._prompts.top(limit=3, since=since)]
            except Exception:  # the digest must go out even if one section fails
                prompts = []
        peers: list[tuple[str, list[str]]] = []
        if self._peers is not None:
            peers = [(name, titles[:3]) for name, titles in (await self._peers.highlights())[:5] if titles]
        remixed: list[tuple[Track, int]] = []
        if self._remixes is not None:
            try:
                remixed = [(t, n) for t, n in await self._remixes(since, 3) if n > 0]
            except Exception:  # the digest must go out even if one section fails
                remixed = []
        boosted: dict[TrackId, int] = {}
        if self._boosts is not None and top:
            try:
                boosted = dict(await self._boosts([t.id for t, _ in top[: self.schedule.top_n]]))
            except Exception:  # the digest must go out even if one section fails
                boosted = {}
        return Digest(
            community=self._community,
            week_ending=end,
            top=tuple(top[: self.schedule.top_n]),
            new_tracks=tuple(new_tracks),
            rounds=tuple(rounds),
            prompts=tuple(prompts),
            peers=tuple(peers),
            top_n=self.schedule.top_n,
            most_remixed=tuple(remixed),
            boosted=boosted,
        )

    async def publish_now(self) -> Digest:
        """Build the digest as it stands and publish it (``digest publish``)."""
        now = self._clock.now()
        digest = await self.build(until=now)
        await self._publish(now, digest)
        return digest

    async def _publish(self, week_ending: datetime, digest: Digest, due: datetime | None = None) -> None:
        """Keep the digest and record its event, as one."""
        async with self._events.transaction():
            await self._state.put(
                "digest",
                f"week:{week_ending.isoformat()}",
                json.dumps({"title": digest.title, "data": digest.to_data()}, default=str),
            )
            if due is not None:
                await self._state.put("digest", "last_published_due", due.isoformat())
            await self._events.record(
                DomainEvent(EventKind.DIGEST_PUBLISHED, week_ending=week_ending), self._clock.now()
            )

    async def publish_due(self) -> Digest | None:
        """Publish the latest due digest unless it already went out; returns it if sent."""
        now = self._clock.now()
        due = self.schedule.latest_due(now)
        last = await self._state.get("digest", "last_published_due")
        if last is not None and datetime.fromisoformat(last) >= due:
            return None
        if last is None:
            first_start = await self._state.get("digest", "first_armed")
            if first_start is None:
                # A new instance starts counting from now: no digest for weeks it did not exist.
                await self._state.put("digest", "first_armed", now.isoformat())
                await self._state.put("digest", "last_published_due", due.isoformat())
                return None
        digest = await self.build(until=due)
        await self._publish(due, digest, due=due)
        return digest

    async def published(self, due: datetime) -> dict[str, object] | None:
        """The digest stored when the one due at ``due`` went out."""
        raw = await self._state.get("digest", f"week:{due.isoformat()}")
        return json.loads(raw) if raw else None
