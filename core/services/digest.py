"""The weekly digest: the week's most voted tracks, round results and top prompts.

It is due at a weekday and time in a time zone (config). ``publish_due`` publishes the
digest of the latest due moment unless that one was already published (remembered in a
durable key-value store), so a digest missed while the instance was down goes out at
start-up, and a restart never sends it twice.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from core.announce import Announcer
from core.commands.declaration import Post, Reply
from core.model import Track, TrackStatus
from core.ports import Clock, TrackRepository
from core.services.sharing import vote_buttons
from core.voting_model import Phase

if TYPE_CHECKING:
    from core.services.prompts import PromptService
    from core.services.voting import VotingService

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class KeyValue(Protocol):
    """A small durable store (the bots' state table)."""

    async def get(self, namespace: str, key: str) -> str | None: ...
    async def put(self, namespace: str, key: str, value: str) -> None: ...


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


class DigestService:
    """Builds, previews and publishes the weekly digest."""

    def __init__(self, schedule: DigestSchedule, tracks: TrackRepository, clock: Clock,
                 announcer: Announcer, state: KeyValue, community: str,
                 voting: VotingService | None = None, prompts: PromptService | None = None) -> None:
        self.schedule = schedule
        self._tracks = tracks
        self._clock = clock
        self._announcer = announcer
        self._state = state
        self._community = community
        self._voting = voting
        self._prompts = prompts
        # set by federation: (peer name, its week's top titles) from peers' published digests
        self.peer_highlights: Callable[[], Awaitable[list[tuple[str, list[str]]]]] | None = None

    async def build(self, until: datetime | None = None) -> Reply:
        """The digest of the seven days before ``until`` (default: now)."""
        end = until or self._clock.now()
        since = end - timedelta(days=7)
        top: list[tuple[Track, int]] = []
        if self._voting is not None:
            for track_id, total, _voters in await self._voting.top_tracks(since, self.schedule.top_n * 2):
                track = await self._tracks.get(track_id)
                if track is not None and track.status is TrackStatus.ACTIVE:
                    top.append((track, total))
        top.sort(key=lambda item: (-item[1], item[0].first_seen_at, item[0].id))  # deterministic ties
        top = top[: self.schedule.top_n]
        new_tracks = [t for t in await self._tracks.recent(limit=5000, since=since) if t.first_seen_at < end]
        sharers = {(t.sharer.platform, t.sharer.user_id) for t in new_tracks}
        lines = [f"{len(new_tracks)} new track{'s' if len(new_tracks) != 1 else ''} this week from "
                 f"{len(sharers)} member{'s' if len(sharers) != 1 else ''}."]
        per_genre: dict[str, list[dict[str, object]]] = {}
        for track, votes in top:
            bucket = per_genre.setdefault(track.genre or "unsorted", [])
            if len(bucket) < 3:
                bucket.append({"track": track.id, "title": track.title, "votes": votes})
        fields: list[tuple[str, str]] = []
        if top:
            lines.append("Most voted:")
            for place, (track, votes) in enumerate(top, start=1):
                lines.append(f"{place}. {track.title} — {track.sharer.display_name} ({votes} vote{'s' if votes != 1 else ''})")
                fields.append((f"{place}. {track.title}"[:256], f"{track.sharer.display_name} · {votes} votes"))
        elif new_tracks:
            lines.append("Newest:")
            for track in new_tracks[: self.schedule.top_n]:
                lines.append(f"• {track.title} — {track.sharer.display_name}")
        rounds_data: list[dict[str, object]] = []
        if self._voting is not None:
            for rnd in await self._voting.recent_rounds(20):
                if rnd.phase is Phase.CLOSED and since <= rnd.vote_until <= end:
                    standings = await self._voting.standings(rnd)
                    if standings:
                        winner = await self._tracks.get(standings[0].entry.track_id)
                        title = winner.title if winner else standings[0].entry.track_id
                        lines.append(f"Round {rnd.label} won by {title} — {standings[0].entry.submitter.display_name}")
                        rounds_data.append({"round": rnd.id, "theme": rnd.rules.theme, "winner": title})
        prompts_data: list[str] = []
        if self._prompts is not None:
            try:
                top_prompts = await self._prompts.top(limit=3, since=since)
            except Exception:  # the digest must go out even if one section fails
                top_prompts = []
            for prompt in top_prompts:
                prompts_data.append(prompt.text)
            if prompts_data:
                lines.append("Top prompts:")
                lines.extend(f"• {text[:200]}" for text in prompts_data)
        peers: list[dict[str, object]] = []
        peer_lines: list[str] = []
        if self.peer_highlights is not None:
            for name, titles in (await self.peer_highlights())[:5]:
                if titles:
                    peers.append({"peer": name, "top": titles[:3]})
                    peer_lines.append(f"• {name}: {', '.join(titles[:3])}")
        if peer_lines:
            lines += ["Highlights from peers:", *peer_lines]
        cards: Sequence[Track] = [t for t, _ in top]  # every listed track with its card and vote button
        return Reply(
            title=f"Weekly digest — {self._community} — week ending {end:%Y-%m-%d}",
            text="\n".join(lines), cards=tuple(cards), fields=tuple(fields),
            buttons=tuple(button for t in cards for button in vote_buttons(t)),
            data={"week_ending": end.isoformat(), "new_tracks": len(new_tracks), "active_sharers": len(sharers),
                  "per_genre": per_genre,
                  "top": [{"track": t.id, "cid": t.cid, "title": t.title, "votes": v} for t, v in top],
                  "rounds": rounds_data, "prompts": prompts_data, "peers": peers},
        )

    async def publish_now(self) -> Reply:
        """Build the digest as it stands and announce it (``digest publish``)."""
        reply = await self.build()
        await self._announcer.announce(Post("digest", reply))
        return reply

    async def publish_due(self) -> Reply | None:
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
        reply = await self.build(until=due)
        await self._state.put("digest", f"week:{due.isoformat()}", json.dumps(
            {"title": reply.title, "text": reply.text, "data": reply.data}, default=str))
        await self._state.put("digest", "last_published_due", due.isoformat())
        await self._announcer.announce(Post("digest", reply))
        return reply

    async def published(self, due: datetime) -> dict[str, object] | None:
        """The digest stored when the one due at ``due`` went out."""
        raw = await self._state.get("digest", f"week:{due.isoformat()}")
        return json.loads(raw) if raw else None
