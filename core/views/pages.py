"""Gathers what each public web page shows, through the services and the read port only.

Everything here is for ``ANYONE``: only public tracks (``core.visibility``), and entrants
of an anonymous round stay anonymous until its results.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from core.errors import NotFoundError, UsageError
from core.model import Track, TrackId
from core.ports import TrackRepository
from core.services.prompts import Prompt
from core.views.federated_round_page import federated_round_view
from core.views.page_data import (
    DigestPage,
    DigestSummary,
    EntryView,
    GenrePage,
    HomePage,
    LineageView,
    PeerSummary,
    PromptRef,
    PromptSearchPage,
    RoundPage,
    RoundRef,
    SearchPage,
    TrackPage,
    WebCatalog,
)
from core.visibility import Viewer, is_public
from core.voting_model import Phase

if TYPE_CHECKING:
    from core.federation.ports import FederationInfo
    from core.services.curation import Curation
    from core.services.federated_rounds import FederatedRoundService
    from core.services.genres import GenreService
    from core.services.prompts import PromptService
    from core.services.voting import VotingService
    from core.services.web_plays import PlayOutcome

log = logging.getLogger(__name__)

NEWEST_ON_HOME = 12
TRACKS_PER_GENRE = 50
DIGESTS_LISTED = 200
MAX_QUERY = 200  # characters of a search box we look at


def _prompt_ref(prompt: Prompt) -> PromptRef:
    return PromptRef(prompt.id, prompt.kind, prompt.text, prompt.generator, len(prompt.track_ids), prompt.votes)


class WebPages:
    """One method per page; each returns a plain dataclass or raises ``NotFoundError``."""

    def __init__(
        self,
        tracks: TrackRepository,
        catalog: WebCatalog,
        *,
        community: str,
        instance_name: str,
        genres: GenreService | None = None,
        voting: VotingService | None = None,
        prompts: PromptService | None = None,
        federation: FederationInfo | None = None,
        curation: Curation | None = None,
        federated_rounds: FederatedRoundService | None = None,
    ) -> None:
        self._federated_rounds = federated_rounds  # issue 18
        self._tracks = tracks
        self._catalog = catalog
        self.community = community
        self.instance_name = instance_name
        self._genres = genres
        self._voting = voting
        self._prompts = prompts
        self._federation = federation
        self._curation = curation

    async def home(self) -> HomePage:
        """The community: latest digest, newest tracks, open rounds, genres, peers."""
        latest = await self.latest_digest()
        rounds = tuple(await self._voting.open_rounds()) if self._voting is not None else ()
        peers: tuple[PeerSummary, ...] = ()
        if self._federation is not None:
            try:
                stats = await self._federation.peer_stats()
            except Exception as err:  # the home page shows without the peers list rather than fail
                log.warning("peer list unavailable: %s", err)
                stats = []
            peers = tuple(PeerSummary(s.peer.name, s.peer.community, s.peer.homepage, s.entries) for s in stats)
        newest = tuple(await self._catalog.public_recent(NEWEST_ON_HOME))
        return HomePage(
            community=self.community,
            instance_name=self.instance_name,
            latest_digest=latest,
            newest=newest,
            open_rounds=rounds,
            genres=tuple(self._genres.names()) if self._genres is not None else (),
            peers=peers,
            boosts=await self.boosts(newest + (tuple(t for t, _ in latest.top) if latest else ())),
        )

    async def track(self, track_id: str) -> TrackPage:
        """A public track with its card, first sharer, holders, votes, rounds and prompts like it."""
        track = await self._tracks.get(TrackId(track_id))
        if track is None or not is_public(track):
            raise NotFoundError("there is no such track here")
        shares = await self._tracks.shares(track.id)
        votes = 0
        rounds: list[RoundRef] = []
        if self._voting is not None:
            votes = (await self._voting.track_votes([track.id])).get(track.id, 0)
            for round_id, number in await self._catalog.rounds_of(track.id):
                rnd = await self._voting.get(round_id)
                if rnd.hides_entrants:
                    continue  # this page names the sharer; the round hides its entrants until the results
                rounds.append(RoundRef(rnd.id, rnd.rules.theme, number, rnd.phase.value))
        similar: list[PromptRef] = []
        if self._prompts is not None and (track.prompt or track.style):
            try:
                found = await self._prompts.search((track.prompt or track.style or "")[:MAX_QUERY], limit=6)
            except UsageError:
                found = []
            similar = [_prompt_ref(p) for p in found if track.id not in p.track_ids][:5]
        return TrackPage(
            track=track,
            first_sharer=shares[0].sharer if shares else track.sharer,
            shares=len(shares),
            holders=tuple(await self._catalog.holders(track.cid)),
            votes=votes,
            rounds=tuple(rounds),
            similar_prompts=tuple(similar),
            boosts=(await self.boosts([track])).get(track.id, 0),
            peer_boosts=await self._curation.store.peer_boosts(track.cid) if self._curation is not None else 0,
            lineage=await self._lineage(track),
        )

    async def boosts(self, tracks: Sequence[Track]) -> dict[TrackId, int]:
        """Curators' boosts of each track: local boosts, else the count a peer's origin signed."""
        curation = self._curation
        if curation is None or not tracks:
            return {}
        counts = dict(await curation.reputation.boost_counts([t.id for t in tracks]))
        for t in tracks:
            if t.id not in counts and (peer := await curation.store.peer_boosts(t.cid)):
                counts[t.id] = peer
        return counts

    async def _lineage(self, track: Track) -> LineageView | None:
        """The track's parent and public children, or None when it has neither."""
        if self._curation is None:
            return None
        family = await self._curation.lineage.family(track, Viewer())
        children = []
        for link in family.children:
            child = await self._tracks.get(link.child_id)
            if child is not None and is_public(child):
                children.append((child, link.relation.value))
        if family.parent is None and not children:
            return None
        parent = family.parent
        return LineageView(
            parent.parent_cid if parent else None,
            family.parent_track,
            parent.relation.value if parent else None,
            tuple(children),
        )

    async def report_play(self, track_id: str, address: str) -> PlayOutcome | None:
        """Count a web play of a public track (None: this instance keeps no curation)."""
        if self._curation is None:
            return None
        return await self._curation.plays.report(track_id, address)

    async def genre(self, name: str, limit: int = TRACKS_PER_GENRE) -> GenrePage:
        """A genre of the taxonomy (by name or alias) and its newest public tracks."""
        genres = self._genres
        canonical = genres.lookup(name) if genres is not None else None
        if canonical is None:
            raise NotFoundError(f"there is no genre '{name}' here")
        tracks = tuple(await self._catalog.public_recent(limit, genre=canonical))
        return GenrePage(canonical, tracks, await self.boosts(tracks))

    async def round(self, round_id: str) -> RoundPage:
        """A round's entries; its results once closed; entrants hidden while it is anonymous."""
        voting = self._voting
        if voting is None:
            raise NotFoundError("this instance runs no rounds")
        try:
            rnd = await voting.get(round_id)
        except UsageError as err:
            raise NotFoundError(str(err)) from None
        closed = rnd.phase is Phase.CLOSED
        standings = {s.entry.number: s for s in await voting.standings(rnd)} if closed else {}
        views: list[EntryView] = []
        for entry in await voting.entries(rnd):
            track = await self._tracks.get(entry.track_id)
            public = track if track is not None and is_public(track) else None
            entrant = "anonymous" if rnd.hides_entrants else entry.submitter.display_name
            standing = standings.get(entry.number)
            views.append(
                EntryView(
                    number=entry.number,
                    track=public,
                    entrant=entrant,
                    rank=standing.rank if standing else None,
                    votes=standing.votes if standing else None,
                    score=standing.score if standing else None,
                )
            )
        if closed:
            views.sort(key=lambda v: (v.rank if v.rank is not None else 1 << 30, v.number))
        federated = (
            await federated_round_view(self._federated_rounds, self._tracks, rnd)
            if self._federated_rounds is not None
            else None
        )
        return RoundPage(rnd, tuple(views), closed, federated)

    async def digests(self) -> tuple[DigestSummary, ...]:
        """Every published digest, newest first (without resolving their tracks)."""
        return await self._digests(DIGESTS_LISTED)

    async def latest_digest(self) -> DigestSummary | None:
        """The newest published digest with its public top tracks."""
        found = await self._digests(1)
        return await self._with_top(found[0]) if found else None

    async def digest(self, week: str) -> DigestPage:
        """The digest of the week ending on ``week`` (``YYYY-MM-DD``) and the list of all."""
        every = await self._digests(DIGESTS_LISTED)
        for summary in every:
            if summary.week == week:
                return DigestPage(await self._with_top(summary), every)
        raise NotFoundError(f"there is no digest for the week ending {week[:20]}")

    async def with_top(self, summary: DigestSummary) -> DigestSummary:
        """A digest with its top tracks resolved (public ones only)."""
        return await self._with_top(summary)

    async def prompts(self, query: str) -> PromptSearchPage:
        """Prompt library search (top prompts when the query is empty)."""
        query = query.strip()[:MAX_QUERY]
        prompts = self._prompts
        if prompts is None:
            return PromptSearchPage(query, ())
        try:
            found = await prompts.search(query, limit=20) if query else await prompts.top(limit=20)
        except UsageError:
            found = []
        return PromptSearchPage(query, tuple(_prompt_ref(p) for p in found))

    async def search(self, query: str) -> SearchPage:
        """Public tracks matching the query."""
        query = query.strip()[:MAX_QUERY]
        if not query:
            return SearchPage(query, ())
        found = await self._tracks.search(query, limit=60)
        return SearchPage(query, tuple(t for t in found if is_public(t))[:30])

    async def feed_tracks(self, limit: int, genre: str | None = None) -> Sequence[Track]:
        """The newest public tracks for a feed (a genre's when given)."""
        return await self._catalog.public_recent(limit, genre=genre)

    async def _digests(self, limit: int) -> tuple[DigestSummary, ...]:
        out: list[DigestSummary] = []
        for week_ending, stored in await self._catalog.digests(limit):
            data: Mapping[str, Any] = stored.get("data") or {}
            title = str(stored.get("title") or f"Weekly digest — week ending {week_ending:%Y-%m-%d}")
            out.append(DigestSummary(f"{week_ending:%Y-%m-%d}", week_ending, title, data))
        return tuple(out)

    async def _with_top(self, summary: DigestSummary) -> DigestSummary:
        top: list[tuple[Track, int]] = []
        for item in summary.data.get("top") or []:
            if not isinstance(item, Mapping):
                continue
            track = await self._tracks.get(TrackId(str(item.get("track"))))
            if track is not None and is_public(track):
                top.append((track, int(item.get("votes") or 0)))
        return DigestSummary(summary.week, summary.week_ending, summary.title, summary.data, tuple(top))
