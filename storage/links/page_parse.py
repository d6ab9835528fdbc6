"""Read what a generic web page says about its audio: OpenGraph tags and ``<audio>`` sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin


@dataclass
class PageFacts:
    """OpenGraph properties, the page title and the audio sources it embeds."""

    meta: dict[str, str] = field(default_factory=dict)
    title: str | None = None
    canonical: str | None = None
    audio_sources: list[str] = field(default_factory=list)

    @property
    def og_audio(self) -> str | None:
        """og:audio (or its :url / :secure_url variants)."""
        for key in ("og:audio:secure_url", "og:audio:url", "og:audio"):
            if self.meta.get(key):
                return self.meta[key]
        return None


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.facts = PageFacts()
        self._in_title = False
        self._in_audio = False
        self._title: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            key = (values.get("property") or values.get("name") or "").strip().lower()
            content = values.get("content", "").strip()
            if key and content and key not in self.facts.meta:
                self.facts.meta[key] = content
        elif tag == "title":
            self._in_title = True
        elif tag == "link" and "canonical" in values.get("rel", "").lower().split():
            self.facts.canonical = values.get("href") or None
        elif tag == "audio":
            self._in_audio = True
            if values.get("src"):
                self.facts.audio_sources.append(values["src"].strip())
        elif tag == "source" and self._in_audio and values.get("src"):
            self.facts.audio_sources.append(values["src"].strip())

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "audio":
            self._in_audio = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)

    def close(self) -> None:
        super().close()
        title = " ".join("".join(self._title).split())
        self.facts.title = title or None


def parse_page(html: str, base_url: str) -> PageFacts:
    """Collect the page's facts; relative URLs are made absolute against ``base_url``."""
    collector = _Collector()
    try:
        collector.feed(html)
        collector.close()
    except Exception:  # noqa: BLE001 - a broken page yields what was read so far
        pass
    facts = collector.facts
    facts.audio_sources = [urljoin(base_url, src) for src in facts.audio_sources]
    for key in ("og:audio", "og:audio:url", "og:audio:secure_url", "og:image", "og:url"):
        if key in facts.meta:
            facts.meta[key] = urljoin(base_url, facts.meta[key])
    if facts.canonical:
        facts.canonical = urljoin(base_url, facts.canonical)
    return facts
