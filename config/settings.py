"""Typed settings, one dataclass per TOML table. ``config/example.toml`` documents each key.

Secrets come from the environment (``ENV_SECRETS``) and are never required in the file.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# environment variable -> "table.key" it fills
ENV_SECRETS: dict[str, str] = {
    "WAVEPOOL_DISCORD_TOKEN": "discord.token",
    "WAVEPOOL_MATRIX_ACCESS_TOKEN": "matrix.access_token",
    "WAVEPOOL_MATRIX_PASSWORD": "matrix.password",
    "WAVEPOOL_HTTP_PORT": "http.port",
}


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")


@dataclass(frozen=True)
class InstanceSettings:
    """[instance]: who this instance is and where it keeps its data."""

    name: str = "wavepool"
    community: str = "A Wavepool community"
    data_dir: Path | None = None  # else $WAVEPOOL_DATA_DIR, else ~/.local/share/wavepool
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"  # FULL: survive power loss, slower commits


@dataclass(frozen=True)
class HttpSettings:
    """[http]: the health, metrics, web page and federation blob server."""

    host: str = "127.0.0.1"
    port: int = 8477
    public_url: str | None = None  # how peers and readers reach this server; chat posts link to its pages

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0-65535, got {self.port}")
        if self.public_url is not None and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", self.public_url):
            raise ValueError(f"public_url must be an http(s) address without query, got {self.public_url!r}")


@dataclass(frozen=True)
class IngestSettings:
    """[ingest]: caps and rules for taking tracks in."""

    max_mb: float = 50.0
    max_duration_s: float = 900.0
    min_duration_s: float = 1.0
    near_duplicate_threshold: float = 0.85
    shares_per_window: int = 20
    share_window_s: float = 3600.0

    def __post_init__(self) -> None:
        _positive("max_mb", self.max_mb)
        _positive("max_duration_s", self.max_duration_s)
        if not 0.5 <= self.near_duplicate_threshold <= 1.0:
            raise ValueError("near_duplicate_threshold must be between 0.5 and 1.0")

    @property
    def max_bytes(self) -> int:
        """The size cap in bytes."""
        return int(self.max_mb * 1024 * 1024)


@dataclass(frozen=True)
class ProvenanceSettings:
    """[provenance]: trust anchors and the verdict rules' switches."""

    trust_anchors: tuple[Path, ...] = ()  # PEM files of C2PA roots the operator trusts
    quarantine_near_duplicates: bool = True
    quarantine_invalid_c2pa: bool = True
    quarantine_non_ai_c2pa: bool = True
    quarantine_conflicts: bool = True
    accept_undeclared: bool = True  # no generator evidence and no declaration -> declared (else quarantined)
    # generator confirmation: the generator's own page serving the same audio -> verified
    confirm_generators: tuple[str, ...] = ("suno", "udio")
    generator_pages: dict[str, str] = field(default_factory=dict)  # generator -> page URL with {song_id}
    confirm_retry_base_s: float = 60.0  # first retry after an unreachable page; doubles, capped at 6 h
    confirm_max_attempts: int = 10
    # quality gates: silence, one repeated tone, a noise floor
    low_quality: Literal["refuse", "quarantine", "accept"] = "refuse"
    max_silent_share: float = 0.8  # silent for this share of the length or more
    min_distinct_share: float = 0.1  # fewer distinct fingerprint items than this: one repeated tone
    max_noise_flatness: float = 0.15  # median spectral flatness at or above this: a noise floor

    def __post_init__(self) -> None:
        if not 0.0 < self.max_silent_share <= 1.0:
            raise ValueError("max_silent_share must be in (0, 1]")
        if not 0.0 <= self.min_distinct_share < 1.0:
            raise ValueError("min_distinct_share must be in [0, 1)")
        if not 0.0 < self.max_noise_flatness <= 1.0:
            raise ValueError("max_noise_flatness must be in (0, 1]")
        _positive("confirm_retry_base_s", self.confirm_retry_base_s)
        for generator, url in self.generator_pages.items():
            if "{song_id}" not in url:
                raise ValueError(f"generator_pages.{generator}: the URL must contain {{song_id}}")


@dataclass(frozen=True)
class LinkSettings:
    """[links]: fetching shared URLs safely."""

    allow_hosts: tuple[str, ...] = ()  # host names allowed even if they resolve privately
    allow_ranges: tuple[str, ...] = ()  # CIDR ranges allowed, e.g. "127.0.0.1/32" for tests
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    max_redirects: int = 5
    pinned_hosts: dict[str, str] = field(default_factory=dict)  # host -> address, like /etc/hosts for links

    def __post_init__(self) -> None:
        for host, address in self.pinned_hosts.items():
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"pinned_hosts.{host}: {address!r} is not an IP address") from None
        for cidr in self.allow_ranges:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"allow_ranges: {cidr!r} is not an address range") from None


@dataclass(frozen=True)
class Genre:
    """One genre of the taxonomy and where its tracks are posted."""

    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    discord_channel: str | None = None
    matrix_room: str | None = None


def _default_genres() -> dict[str, Genre]:
    return {
        "synthwave": Genre(aliases=("outrun", "retrowave"), keywords=("80s", "neon", "synth")),
        "lofi": Genre(aliases=("lo-fi", "chillhop"), keywords=("chill", "study", "vinyl")),
        "ambient": Genre(aliases=("drone",), keywords=("atmospheric", "pad", "calm")),
        "rock": Genre(aliases=("alt-rock", "indie rock"), keywords=("guitar", "drums", "riff")),
        "hiphop": Genre(aliases=("hip-hop", "rap", "trap"), keywords=("808", "bars", "boom bap")),
        "electronic": Genre(aliases=("edm", "house", "techno"), keywords=("club", "bass", "beat")),
        "pop": Genre(aliases=("synthpop",), keywords=("catchy", "chorus")),
        "orchestral": Genre(aliases=("cinematic", "classical"), keywords=("strings", "epic", "piano")),
    }


@dataclass(frozen=True)
class GenreSettings:
    """[genres]: the taxonomy; [genres.taxonomy.<name>] tables."""

    default_discord_channel: str | None = None
    default_matrix_room: str | None = None
    taxonomy: dict[str, Genre] = field(default_factory=_default_genres)


@dataclass(frozen=True)
class VotingSettings:
    """[voting]: defaults for rounds and card votes."""

    round_discord_channel: str | None = None
    round_matrix_room: str | None = None
    min_account_age_days: float = 0.0
    approval_key: str = "👍"
    score_keys: tuple[str, ...] = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣")


@dataclass(frozen=True)
class DigestSettings:
    """[digest]: when the weekly digest is posted and where."""

    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    time: str = "18:00"
    timezone: str = "UTC"
    discord_channel: str | None = None
    matrix_room: str | None = None
    top_n: int = 10

    def __post_init__(self) -> None:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", self.time):
            raise ValueError(f"time must be HH:MM (24h), got {self.time!r}")


@dataclass(frozen=True)
class DiscordSettings:
    """[discord]: the Discord bot; it starts only when a token is set."""

    token: str | None = None  # env WAVEPOOL_DISCORD_TOKEN
    application_id: str | None = None
    test_guild_id: str | None = None  # sync commands to this guild only
    watch_channels: tuple[str, ...] = ()  # channel ids whose audio attachments are ingested
    moderator_role: str | None = None  # role name or id; else Manage Server permission
    api_base: str | None = None  # only for tests: a local fake of Discord's API


@dataclass(frozen=True)
class MatrixSettings:
    """[matrix]: the Matrix bot; it starts only when a homeserver and credentials are set."""

    homeserver: str | None = None
    user_id: str | None = None
    access_token: str | None = None  # env WAVEPOOL_MATRIX_ACCESS_TOKEN
    password: str | None = None  # env WAVEPOOL_MATRIX_PASSWORD
    device_name: str = "wavepool"
    watch_rooms: tuple[str, ...] = ()  # rooms whose audio is ingested; commands work in all joined rooms
    auto_join: bool = True  # accept invites
    moderator_power_level: int = 50
    command_prefix: str = "!wp"


@dataclass(frozen=True)
class FederationSettings:
    """[federation]: the Matrix rooms this instance federates through, and local policy."""

    rooms: tuple[str, ...] = ()
    accept_verdicts: tuple[str, ...] = ("verified", "declared")
    accept_genres: tuple[str, ...] = ()  # empty: all
    max_track_mb: float = 50.0
    quota_gb: float = 20.0
    blocked_instances: tuple[str, ...] = ()  # Matrix user ids or key ids
    announce_replicated: bool = True  # post peers' tracks in their genre channels ("from <peer>")


@dataclass(frozen=True)
class CurationSettings:
    """[curation]: reputation, boosts and the federation's quality gates (issue 17)."""

    min_boost_reputation: float = 10.0  # reputation a member needs to boost (moderators always may)
    public_leaderboard: bool = False  # `curators` lists the best curators only when true
    publish_gate: Literal["all", "curated"] = "all"  # curated: publish only tracks passing one test below
    publish_min_boosts: int = 3  # boosted by this many curators (0: this test is off)
    publish_round_place: int = 3  # won or placed up to this rank in a closed round (0: off)
    publish_min_score: float = 0.0  # effective (ring-resistant) votes (0: off)
    receive: Literal["any", "prefer_boosted", "require_boosted"] = "any"  # peers' tracks
    receive_min_boosts: int = 1  # boosts a peer's track needs under require_boosted


@dataclass(frozen=True)
class Settings:
    """Everything, validated once at start-up."""

    instance: InstanceSettings = field(default_factory=InstanceSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    provenance: ProvenanceSettings = field(default_factory=ProvenanceSettings)
    links: LinkSettings = field(default_factory=LinkSettings)
    genres: GenreSettings = field(default_factory=GenreSettings)
    voting: VotingSettings = field(default_factory=VotingSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    matrix: MatrixSettings = field(default_factory=MatrixSettings)
    federation: FederationSettings = field(default_factory=FederationSettings)
    curation: CurationSettings = field(default_factory=CurationSettings)

    def validate(self) -> None:
        """Cross-table checks that a single table cannot make."""
        for anchor in self.provenance.trust_anchors:
            if not anchor.is_file():
                raise ValueError(f"provenance.trust_anchors: no such file {anchor}")
        # the Matrix secrets are checked by ``wavepool run`` only: commands that need no chat
        # connection (``wavepool cmd``, ``ingest``) run with the bot's config and no secrets
        if self.matrix.homeserver and not self.matrix.user_id:
            raise ValueError("matrix.user_id: required when matrix.homeserver is set")

    @property
    def data_dir(self) -> Path:
        """The resolved data directory (always set after loading)."""
        assert self.instance.data_dir is not None
        return self.instance.data_dir
