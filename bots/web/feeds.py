"""Feeds built with feedgen: the digest podcast (RSS) and the track feeds (Atom).

The podcast has **one item per track** of each week's digest, not one item per week: an
RSS item carries one ``<enclosure>`` and podcast apps play one file per episode, so a
weekly item could hold only one of its tracks. Each item says which digest and which
place it is ("Week ending 2026-11-23 · #1 · Title") and links to the digest page, so the
week reads as a group in the app's list. docs/WEB.md says the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from core.model import Track
from core.views.page_data import DigestSummary

PODCAST_INDEX_NS = "https://podcastindex.org/namespace/1.0"
FEED_TRACKS = 50


class _PodcastIndexExtension(BaseExtension):  # type: ignore[misc]
    """Podcasting 2.0 channel tags feedgen does not know: guid, medium, locked."""

    def __init__(self) -> None:
        self.guid: str | None = None
        self.owner: str | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"podcast": PODCAST_INDEX_NS}

    def extend_rss(self, feed: Any) -> Any:
        channel = feed[0]
        if self.guid:
            etree.SubElement(channel, f"{{{PODCAST_INDEX_NS}}}guid").text = self.guid
        etree.SubElement(channel, f"{{{PODCAST_INDEX_NS}}}medium").text = "music"
        locked = etree.SubElement(channel, f"{{{PODCAST_INDEX_NS}}}locked")
        locked.text = "no"  # anyone may list the feed in a podcast directory
        return feed


class _AtomFeedLinks(BaseExtension):  # type: ignore[misc]
    """Nothing at feed level; feedgen wants a feed class for every extension."""


class _AtomLinkAttributes(BaseEntryExtension):  # type: ignore[misc]
    """Puts rel/type/length back on an entry's Atom links.

    feedgen 1.0.0 writes only ``href`` for entry links (its loop variable shadows the link
    data), which would drop ``rel="enclosure"`` and the enclosure's type and length.
    """

    def __init__(self) -> None:
        self.attributes: dict[str, dict[str, str]] = {}

    def extend_atom(self, entry: Any) -> Any:
        for element in entry:
            if isinstance(element.tag, str) and element.tag.rsplit("}", 1)[-1] == "link":
                for name, value in self.attributes.get(element.get("href"), {}).items():
                    element.set(name, value)
        return entry


def _describe(track: Track) -> str:
    bits = [track.title]
    if track.artist:
        bits.append(f"by {track.artist}")
    if track.genre:
        bits.append(f"({track.genre})")
    if track.generator:
        bits.append(f"made with {track.generator}")
    text = " ".join(bits) + f", shared by {track.sharer.display_name}."
    if track.prompt:
        text += f"\nPrompt: {track.prompt}"
    if track.style:
        text += f"\nStyle: {track.style}"
    return text


def _newest(tracks: Sequence[Track]) -> datetime:
    return max((t.first_seen_at for t in tracks), default=datetime(2020, 1, 1, tzinfo=UTC))


def tracks_atom(base: str, title: str, self_path: str, page_path: str, tracks: Sequence[Track]) -> bytes:
    """An Atom feed of tracks, newest first, each with its audio as an enclosure."""
    feed = FeedGenerator()
    feed.id(base + self_path)
    feed.title(title)
    feed.author({"name": title})
    feed.link(href=base + page_path, rel="alternate", type="text/html")
    feed.link(href=base + self_path, rel="self", type="application/atom+xml")
    feed.updated(_newest(tracks))
    feed.language("en")
    feed.logo(base + "/cover.png")
    feed.register_extension("linkattributes", _AtomFeedLinks, _AtomLinkAttributes, atom=True, rss=False)
    for track in tracks:
        entry = feed.add_entry(order="append")
        entry.id(f"{base}/tracks/{track.id}")
        entry.title(track.title)
        entry.author({"name": track.artist or track.sharer.display_name})
        page, audio = f"{base}/tracks/{track.id}", f"{base}/blobs/{track.cid}"
        entry.link(href=page, rel="alternate", type="text/html")
        entry.enclosure(audio, str(track.size), track.media_type)
        entry.linkattributes.attributes = {
            page: {"rel": "alternate", "type": "text/html"},
            audio: {"rel": "enclosure", "type": track.media_type, "length": str(track.size)},
        }
        entry.summary(_describe(track))
        entry.published(track.first_seen_at)
        entry.updated(track.first_seen_at)
        if track.genre:
            entry.category(term=track.genre)
    result: bytes = feed.atom_str(pretty=True)
    return result


def digest_podcast(base: str, community: str, digests: Sequence[DigestSummary]) -> bytes:
    """The weekly digest as a podcast: one episode per top track of each digest."""
    feed = FeedGenerator()
    feed.load_extension("podcast")
    feed.register_extension("podcastindex", _PodcastIndexExtension, BaseEntryExtension, atom=False, rss=True)
    feed.podcastindex.guid = str(uuid.uuid5(uuid.NAMESPACE_URL, base + "/feeds/digest.xml"))
    feed.title(f"{community} — weekly digest")
    # feedgen makes the last link given the RSS <link>: the site's, so it goes after the self link
    feed.link(href=base + "/feeds/digest.xml", rel="self")
    feed.link(href=base + "/", rel="alternate")
    feed.description(f"The tracks {community} voted up each week, with the digest of that week.")
    feed.language("en")
    feed.generator("Wavepool")
    feed.podcast.itunes_author(community)
    feed.podcast.itunes_category("Music")
    feed.podcast.itunes_explicit("no")
    feed.podcast.itunes_summary(f"The weekly digest of {community}: its most voted AI-made tracks.")
    feed.podcast.itunes_type("episodic")
    feed.podcast.itunes_image(base + "/cover.png")
    feed.image(url=base + "/cover.png", title=f"{community} — weekly digest", link=base + "/")
    newest = max((d.week_ending for d in digests), default=datetime(2020, 1, 1, tzinfo=UTC))
    feed.lastBuildDate(newest)
    for digest in digests:
        page = f"{base}/digests/{digest.week}"
        summary = _digest_text(digest)
        for place, (track, votes) in enumerate(digest.top, start=1):
            entry = feed.add_entry(order="append")
            entry.guid(f"{page}#{track.id}", permalink=False)
            entry.title(f"Week ending {digest.week} · #{place} · {track.title}")
            entry.link(href=f"{base}/tracks/{track.id}")
            entry.description(f"{_describe(track)}\n{votes} votes.\n\n{summary}\n{page}")
            entry.enclosure(f"{base}/blobs/{track.cid}", str(track.size), track.media_type)
            # one second per place keeps the week's order in apps that sort by date
            entry.published(digest.week_ending.replace(microsecond=0) - timedelta(seconds=place))
            entry.podcast.itunes_duration(max(1, round(track.duration_s)))
            entry.podcast.itunes_episode_type("full")
            entry.podcast.itunes_author(track.artist or track.sharer.display_name)
    result: bytes = feed.rss_str(pretty=True)
    return result


def _digest_text(digest: DigestSummary) -> str:
    data = digest.data
    lines = [digest.title]
    new = data.get("new_tracks")
    sharers = data.get("active_sharers")
    if isinstance(new, int):
        lines.append(f"{new} new tracks from {sharers if isinstance(sharers, int) else 0} members.")
    for win in data.get("rounds") or []:
        if isinstance(win, dict):
            lines.append(f"Round #{win.get('round')} “{win.get('theme')}”: {win.get('winner')}")
    prompts = [p for p in data.get("prompts") or [] if isinstance(p, str)]
    if prompts:
        lines.append("Notable prompts: " + " | ".join(prompts))
    return "\n".join(lines)
