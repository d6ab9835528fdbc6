"""``GeneratorConfirmer`` implementations: ask Suno or Udio what its page serves for a song id.

The song's public page is fetched through the SSRF-safe ``LinkFetcher`` (the address
guard, redirect and size caps apply; the generator's plugin extractor reads the page),
its audio is downloaded to a temp file, probed, fingerprinted and hashed, and the temp
file is deleted. Errors become a ``LookupStatus``: only network trouble is retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from core.cid import cid_of
from core.errors import (
    CorruptAudioError,
    FetchError,
    NotAudioError,
    PageGoneError,
    PageWithoutAudioError,
    TooLargeError,
    UnsafeUrlError,
)
from core.model import Cid
from core.ports import LinkFetcher, MediaInspector
from core.provenance_ports import GeneratorPage, LookupStatus, PageLookup

log = logging.getLogger(__name__)

# generator -> its public song page ({song_id} is filled in); config may override (tests, mirrors)
DEFAULT_PAGE_URLS: dict[str, str] = {
    "suno": "https://suno.com/song/{song_id}",
    "udio": "https://www.udio.com/songs/{song_id}",
}


def _cid_of_file(path: Path) -> Cid:
    return cid_of(path.read_bytes())


class PageGeneratorConfirmer:
    """Confirms songs of one generator from its public song pages."""

    def __init__(
        self,
        generator: str,
        fetcher: LinkFetcher,
        inspector: MediaInspector,
        work_dir: Path,
        max_bytes: int,
        page_url: str | None = None,
    ) -> None:
        self._generator = generator
        self._fetcher = fetcher
        self._inspector = inspector
        self._work_dir = work_dir
        self._max_bytes = max_bytes
        self._page_url = page_url or DEFAULT_PAGE_URLS[generator]

    @property
    def generator(self) -> str:
        """The generator this confirmer asks."""
        return self._generator

    async def look_up(self, song_id: str) -> PageLookup:
        """Fetch the song page and measure its audio; network trouble is UNREACHABLE, never raised."""
        url = self._page_url.format(song_id=song_id)
        self._work_dir.mkdir(parents=True, exist_ok=True)
        try:
            fetched = await self._fetcher.fetch(url, self._work_dir, self._max_bytes)
        except PageGoneError as exc:
            return PageLookup(LookupStatus.NOT_PUBLIC, None, str(exc))
        except (PageWithoutAudioError, NotAudioError) as exc:
            return PageLookup(LookupStatus.NO_SONG, None, str(exc))
        except (FetchError, TooLargeError, UnsafeUrlError, OSError) as exc:
            return PageLookup(LookupStatus.UNREACHABLE, None, str(exc) or exc.__class__.__name__)
        try:
            facts = fetched.page
            if facts.generator != self._generator:
                return PageLookup(LookupStatus.UNREACHABLE, None, f"{url} is not a {self._generator} song page")
            if facts.song_id and facts.song_id.lower() != song_id.lower():
                return PageLookup(LookupStatus.NO_SONG, None, f"the page is for another song ({facts.song_id})")
            try:
                info = await self._inspector.probe(fetched.path)
            except (NotAudioError, CorruptAudioError) as exc:
                return PageLookup(LookupStatus.NO_SONG, None, f"the page's audio is unusable: {exc}")
            fingerprint = await self._inspector.fingerprint(fetched.path)
            audio_cid = await asyncio.to_thread(_cid_of_file, fetched.path)
        finally:
            fetched.path.unlink(missing_ok=True)
        page_facts = {
            k: v
            for k, v in (
                ("style", facts.style),
                ("model", facts.model),
                ("prompt", facts.prompt),
                ("canonical_url", facts.canonical_url),
            )
            if v
        }
        page = GeneratorPage(
            generator=self._generator,
            song_id=song_id,
            page_url=url,
            title=facts.title,
            creator=facts.creator,
            duration_s=round(info.duration_s, 3),
            audio_url=facts.audio_url,
            audio_cid=audio_cid,
            fingerprint=fingerprint,
            facts=page_facts,
        )
        log.info("%s page for song %s: %r, %.1f s", self._generator, song_id, facts.title, info.duration_s)
        return PageLookup(LookupStatus.FOUND, page, "")


def build_confirmers(
    generators: Sequence[str],
    fetcher: LinkFetcher,
    inspector: MediaInspector,
    work_dir: Path,
    max_bytes: int,
    page_urls: Mapping[str, str] | None = None,
) -> list[PageGeneratorConfirmer]:
    """One confirmer per configured generator we know a page for (``[provenance] confirm_generators``)."""
    urls = {**DEFAULT_PAGE_URLS, **(page_urls or {})}
    out = []
    for generator in generators:
        if generator not in urls:
            log.warning("no song page known for generator %r: it cannot confirm tracks", generator)
            continue
        out.append(PageGeneratorConfirmer(generator, fetcher, inspector, work_dir, max_bytes, urls[generator]))
    return out
