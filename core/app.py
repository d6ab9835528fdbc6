"""The services an instance runs, held together so command handlers can reach them.

Built once by ``bots.runtime`` (or by tests with in-memory ports); the core never builds
its own adapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.events.ports import EventLog
from core.model import InstanceId
from core.ports import BlobPool, Clock, TrackRepository
from core.replies import Post
from core.services.ingest import IngestService

if TYPE_CHECKING:
    from core.federation.ports import FederationInfo
    from core.services.confirmation import ConfirmationService
    from core.services.curation import Curation
    from core.services.digest import DigestService
    from core.services.federated_rounds import FederatedRoundService
    from core.services.genres import GenreService
    from core.services.moderation import ModerationService
    from core.services.prompts import PromptService
    from core.services.sharing import ShareService
    from core.services.voting import VotingService


@dataclass
class App:
    """Every service of one instance."""

    instance: InstanceId
    instance_name: str
    clock: Clock
    pool: BlobPool
    tracks: TrackRepository
    ingest: IngestService
    share: ShareService
    moderation: ModerationService
    events: EventLog
    genres: GenreService | None = None
    prompts: PromptService | None = None
    voting: VotingService | None = None
    digest: DigestService | None = None
    federation: FederationInfo | None = None  # None when this instance does not federate
    confirmations: ConfirmationService | None = None  # generators' pages confirming tracks
    curation: Curation | None = None  # reputation, boosts, recommendations, lineage (issue 17)
    federated_rounds: FederatedRoundService | None = None  # cross-community rounds

    async def destination(self, target: str, platform: str) -> str | None:
        """The channel/room id a ``Post`` target maps to on a platform, or None."""
        if self.genres is None:
            return None
        return await self.genres.destination(target, platform)

    async def place_of(self, post: Post, platform: str) -> str | None:
        """Where a post goes on a platform: the configured place, else where its round started
        (on that platform), else the default place."""
        if self.genres is None:
            return None
        started_in = post.fallback[1] if post.fallback is not None and post.fallback[0] == platform else None
        return await self.genres.destination(post.target, platform, started_in)
