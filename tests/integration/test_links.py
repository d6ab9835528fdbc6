"""Ingest from links, safely: ``storage.links.SafeLinkFetcher`` against servers on 127.0.0.1.

Suno-like fixture pages are served under the host name ``suno.com``, pinned to 127.0.0.1
through the fetcher's ``host_map`` hook (the machine's DNS is never touched), with
127.0.0.1 allowed in the test settings. Blocked-address tests use settings without any
allowlist and a bare TCP server that proves nothing reached it.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import struct
import subprocess
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.settings import LinkSettings
from core.errors import FetchError, TooLargeError, UnsafeUrlError
from core.ports import LinkFetcher
from storage.links import SafeLinkFetcher
from storage.links.address_guard import AddressGuard, blocked_reason, literal_address, parse_url
from storage.links.yt_dlp_plugins.extractor.wavepool_suno import clip_facts, find_clip
from tests.support.link_server import LinkServer, RawServer

SONG_ID = "3f2a8c1e-5b7d-4e9a-8c6f-1a2b3c4d5e6f"
OTHER_ID = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
CAP = 2 * 1024 * 1024
LYRICS = "[Verse]\nNeon rain on the highway\n[Chorus]\nWe ride tonight"

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is needed for test audio")


# --- test audio -----------------------------------------------------------------------


def _make_mp3(path: Path, seconds: float = 2.0, seed: int = 1) -> Path:
    """A short seeded melody: stdlib ``wave`` writes a WAV, ffmpeg encodes it to MP3."""
    try:
        from tests.support.audio import make_mp3  # shared helper, when another part ships it

        return Path(make_mp3(path, seconds, seed))
    except ImportError:
        pass
    rng = random.Random(seed)
    rate = 22050
    wav = path.with_suffix(".wav")
    notes = [rng.choice([220.0, 262.0, 294.0, 330.0, 392.0, 440.0]) for _ in range(int(seconds * 4) + 1)]
    frames = bytearray()
    for i in range(int(seconds * rate)):
        freq = notes[int(i / rate * 4)]
        frames += struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate)))
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(wav),
            "-codec:a",
            "libmp3lame",
            "-b:a",
            "64k",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    wav.unlink()
    return path


@pytest.fixture(scope="module")
def mp3_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _make_mp3(tmp_path_factory.mktemp("audio") / "song.mp3").read_bytes()


# --- servers and fetchers -------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[LinkServer]:
    srv = await LinkServer().start()
    yield srv
    await srv.stop()


@pytest.fixture
async def raw() -> AsyncIterator[RawServer]:
    srv = await RawServer().start()
    yield srv
    await srv.stop()


def allowed_settings(**overrides: object) -> LinkSettings:
    values: dict[str, object] = {
        "allow_ranges": ("127.0.0.1/32",),
        "connect_timeout_s": 3.0,
        "read_timeout_s": 3.0,
        "max_redirects": 5,
    }
    values.update(overrides)
    return LinkSettings(**values)  # type: ignore[arg-type]


SUNO_HOSTS = {"suno.com": "127.0.0.1", "www.suno.com": "127.0.0.1", "cdn1.suno.test": "127.0.0.1"}


@pytest.fixture
def fetcher() -> SafeLinkFetcher:
    port: LinkFetcher = SafeLinkFetcher(allowed_settings(), host_map=SUNO_HOSTS)
    assert isinstance(port, SafeLinkFetcher)
    return port


@pytest.fixture
def strict_fetcher() -> SafeLinkFetcher:
    """No allowlist at all: loopback is refused like any private address."""
    return SafeLinkFetcher(LinkSettings(connect_timeout_s=3.0, read_timeout_s=3.0))


def leftovers(folder: Path) -> list[Path]:
    """Files left in a download folder."""
    return list(folder.iterdir())


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    path = tmp_path / "downloads"
    path.mkdir()
    return path


# --- fixture pages --------------------------------------------------------------------


def clip_json(port: int, song_id: str = SONG_ID) -> dict[str, object]:
    return {
        "id": song_id,
        "title": "Neon Highway",
        "audio_url": f"http://cdn1.suno.test:{port}/{song_id}.mp3",
        "image_large_url": f"http://cdn1.suno.test:{port}/image_{song_id}.jpeg",
        "display_name": "Night Driver",
        "handle": "nightdriver",
        "major_model_version": "v4.5",
        "model_name": "chirp-auk",
        "metadata": {
            "tags": "synthwave, dreamy, 80s",
            "prompt": LYRICS,
            "gpt_description_prompt": "a dreamy synthwave song about driving at night",
            "type": "gen",
            "duration": 2.0,
        },
    }


def og_tags(port: int, title: str = "Neon Highway by nightdriver | Suno", audio: bool = True) -> str:
    tags = [
        f'<meta property="og:title" content="{title}">',
        f'<meta property="og:image" content="http://cdn1.suno.test:{port}/image_{SONG_ID}.jpeg">',
    ]
    if audio:
        tags.append(f'<meta property="og:audio" content="http://cdn1.suno.test:{port}/{SONG_ID}.mp3">')
    return "\n".join(tags)


def suno_page_with_flight_json(port: int) -> str:
    """Like the real pages: the clip sits inside a Next.js flight chunk (a JS string)."""
    other = clip_json(port, OTHER_ID) | {"title": "Something Else"}
    payload = '6:["$","div",null,' + json.dumps({"clip": clip_json(port), "related": [other]}) + "]\n"
    chunk = json.dumps(payload)
    return (
        "<!DOCTYPE html><html><head>" + og_tags(port) + "<title>Neon Highway | Suno</title></head>"
        "<body><div id=app></div>"
        '<script>self.__next_f.push([1,"1:HL[\\"/_next/static/css/app.css\\",\\"style\\"]\\n"])</script>'
        f"<script>self.__next_f.push([1,{chunk}])</script>"
        "</body></html>"
    )


def suno_page_with_next_data(port: int) -> str:
    data = {"props": {"pageProps": {"clip": clip_json(port)}}}
    return (
        "<html><head>" + og_tags(port) + "</head><body>"
        f'<script id="__NEXT_DATA__" type="application/json">{json.dumps(data)}</script></body></html>'
    )


def serve_suno(server: LinkServer, mp3: bytes, page: str, song_id: str = SONG_ID) -> str:
    server.add_html(f"/song/{song_id}", page)
    server.add_bytes(f"/{song_id}.mp3", mp3)
    return server.url(f"/song/{song_id}", host="suno.com")


# --- Suno -----------------------------------------------------------------------------


async def test_suno_page_with_clip_json(
    server: LinkServer, fetcher: SafeLinkFetcher, dest: Path, mp3_bytes: bytes
) -> None:
    url = serve_suno(server, mp3_bytes, suno_page_with_flight_json(server.port))
    got = await fetcher.fetch(url, dest, CAP)
    assert got.path.parent == dest and got.path.read_bytes() == mp3_bytes
    assert got.size == len(mp3_bytes)
    page = got.page
    assert page.url == url
    assert (page.site, page.generator, page.song_id) == ("suno", "suno", SONG_ID)
    assert page.title == "Neon Highway"
    assert page.creator == "nightdriver"
    assert page.style == "synthwave, dreamy, 80s"
    assert page.tags == ("synthwave", "dreamy", "80s")
    assert page.lyrics == LYRICS
    assert page.prompt == "a dreamy synthwave song about driving at night"
    assert page.model is not None and "v4.5" in page.model
    assert page.canonical_url == f"https://suno.com/song/{SONG_ID}"
    assert page.audio_url == f"http://cdn1.suno.test:{server.port}/{SONG_ID}.mp3"
    assert all(s.host and s.host.startswith(("suno.com", "cdn1.suno.test")) for s in server.seen)


async def test_suno_page_with_next_data_json(
    server: LinkServer, fetcher: SafeLinkFetcher, dest: Path, mp3_bytes: bytes
) -> None:
    url = serve_suno(server, mp3_bytes, suno_page_with_next_data(server.port))
    got = await fetcher.fetch(url, dest, CAP)
    assert got.page.creator == "nightdriver" and got.page.title == "Neon Highway"


async def test_suno_page_with_only_og_tags(
    server: LinkServer, fetcher: SafeLinkFetcher, dest: Path, mp3_bytes: bytes
) -> None:
    page = f"<html><head>{og_tags(server.port, title='Only OG')}</head><body>app</body></html>"
    url = serve_suno(server, mp3_bytes, page)
    got = await fetcher.fetch(url, dest, CAP)
    assert got.path.read_bytes() == mp3_bytes
    assert got.page.generator == "suno" and got.page.song_id == SONG_ID
    assert got.page.title == "Only OG"
    assert got.page.creator is None and got.page.lyrics is None


async def test_suno_short_link_follows_redirect(
    server: LinkServer, fetcher: SafeLinkFetcher, dest: Path, mp3_bytes: bytes
) -> None:
    serve_suno(server, mp3_bytes, suno_page_with_flight_json(server.port))
    server.add_redirect("/s/AbC123xyz", server.url(f"/song/{SONG_ID}", host="suno.com"))
    url = server.url("/s/AbC123xyz", host="suno.com")
    got = await fetcher.fetch(url, dest, CAP)
    assert got.page.song_id == SONG_ID and got.page.url == url
    assert got.page.canonical_url == f"https://suno.com/song/{SONG_ID}"
    assert server.paths()[:2] == ["/s/AbC123xyz", f"/song/{SONG_ID}"]


async def test_suno_404_is_private_or_removed(server: LinkServer, fetcher: SafeLinkFetcher, dest: Path) -> None:
    with pytest.raises(FetchError, match="private or was removed"):
        await fetcher.fetch(server.url(f"/song/{SONG_ID}", host="suno.com"), dest, CAP)
    assert leftovers(dest) == []


async def test_suno_page_without_audio(server: LinkServer, fetcher: SafeLinkFetcher, dest: Path) -> None:
    server.add_html(f"/song/{SONG_ID}", f"<html><head>{og_tags(server.port, audio=False)}</head></html>")
    with pytest.raises(FetchError, match="page without audio"):
        await fetcher.fetch(server.url(f"/song/{SONG_ID}", host="suno.com"), dest, CAP)


def test_clip_parsing_is_tolerant() -> None:
    assert find_clip("<html><script>var x = {broken</script></html>", SONG_ID) is None
    facts = clip_facts({"id": SONG_ID, "audio_url": "https://cdn1.suno.ai/x.mp3", "metadata": "odd"})
    assert facts["audio_url"] == "https://cdn1.suno.ai/x.mp3" and facts["tags"] == []


# --- generic pages and direct audio ---------------------------------------------------


async def test_generic_page_with_audio_element(
    server: LinkServer, fetcher: SafeLinkFetcher, dest: Path, mp3_bytes: bytes
) -> None:
    server.add_bytes("/media/track.mp3", mp3_bytes)
    server.add_html(
        "/blog/my-song",
        "<html><head><title>My Song</title></head><body>"
        '<audio controls><source src="/media/track.mp3" type="audio/mpeg"></audio></body></html>',
    )
    got = await fetcher.fetch(server.url("/blog/my-song"), dest, CAP)
    assert got.path.read_bytes() == mp3_bytes
    assert got.page.site == "generic" and got.page.title == "My Song"
    assert got.page.audio_url == server.url("/media/track.mp3")


async def test_generic_page_with_og_audio(
    server: LinkServer, fetcher: SafeLinkFetcher, dest: Path, mp3_bytes: bytes
) -> None:
    server.add_bytes("/a.mp3", mp3_bytes)
    server.add_html(
        "/p",
        f'<html><head><meta property="og:audio" content="{server.url("/a.mp3")}"><meta property="og:title" content="OG Song"></head></html>',
    )
    got = await fetcher.fetch(server.url("/p"), dest, CAP)
    assert got.size == len(mp3_bytes) and got.page.title == "OG Song"


async def test_direct_mp3_url(server: LinkServer, fetcher: SafeLinkFetcher, dest: Path, mp3_bytes: bytes) -> None:
    server.add_bytes("/files/song.mp3", mp3_bytes)
    got = await fetcher.fetch(server.url("/files/song.mp3"), dest, CAP)
    assert got.path.read_bytes() == mp3_bytes and got.path.suffix == ".mp3"
    assert got.content_type == "audio/mpeg"
    assert got.page.site == "direct" and got.page.generator is None


async def test_generic_page_without_audio(server: LinkServer, fetcher: SafeLinkFetcher, dest: Path) -> None:
    server.add_html("/nothing", "<html><head><title>Hello</title></head><body>No music here.</body></html>")
    with pytest.raises(FetchError, match="page without audio"):
        await fetcher.fetch(server.url("/nothing"), dest, CAP)


async def test_text_served_as_audio_is_a_page_without_audio(
    server: LinkServer, fetcher: SafeLinkFetcher, dest: Path
) -> None:
    server.add_bytes("/fake.mp3", b"<html><body>gotcha</body></html>", content_type="audio/mpeg")
    with pytest.raises(FetchError, match="page without audio"):
        await fetcher.fetch(server.url("/fake.mp3"), dest, CAP)


# --- size cap -------------------------------------------------------------------------


async def test_body_over_cap_without_content_length_is_cut_off(
    server: LinkServer, fetcher: SafeLinkFetcher, dest: Path, mp3_bytes: bytes
) -> None:
    server.add_chunked("/endless.mp3", mp3_bytes[:65536].ljust(65536, b"\x00"), count=200)
    with pytest.raises(TooLargeError):
        await fetcher.fetch(server.url("/endless.mp3"), dest, CAP)
    assert leftovers(dest) == []


async def test_lying_content_length_is_not_trusted(fetcher: SafeLinkFetcher, dest: Path) -> None:
    """The server declares 1 KB and sends 4 MB: the download fails and nothing is kept."""
    liar = RawServer(
        response=b"HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nContent-Length: 1024\r\n\r\n",
        body_after=b"\xff\xfb\x90\x64" + b"\x00" * 65532,
        body_repeat=64,
    )
    await liar.start()
    try:
        with pytest.raises((TooLargeError, FetchError)):
            await fetcher.fetch(f"http://127.0.0.1:{liar.port}/song.mp3", dest, CAP)
    finally:
        await liar.stop()
    assert leftovers(dest) == []


async def test_declared_size_over_cap_is_refused_early(
    server: LinkServer, fetcher: SafeLinkFetcher, dest: Path, mp3_bytes: bytes
) -> None:
    server.add_bytes("/big.mp3", mp3_bytes)
    with pytest.raises(TooLargeError):
        await fetcher.fetch(server.url("/big.mp3"), dest, len(mp3_bytes) - 1)
    assert leftovers(dest) == []


# --- refused addresses ----------------------------------------------------------------


async def test_redirect_to_blocked_address_is_refused(server: LinkServer, raw: RawServer, dest: Path) -> None:
    """Allowlist off: only the entry host name is allowed; its redirect to loopback is not."""
    fetcher = SafeLinkFetcher(LinkSettings(allow_hosts=("start.test",)), host_map={"start.test": "127.0.0.1"})
    server.add_redirect("/go", "/hop")
    server.add_redirect("/hop", f"http://127.0.0.1:{raw.port}/secret")
    with pytest.raises(UnsafeUrlError, match="loopback"):
        await fetcher.fetch(server.url("/go", host="start.test"), dest, CAP)
    assert server.paths() == ["/go", "/hop"]
    assert raw.connections == 0 and raw.received == b""


async def test_redirect_to_name_resolving_privately_is_refused(server: LinkServer, raw: RawServer, dest: Path) -> None:
    fetcher = SafeLinkFetcher(
        LinkSettings(allow_hosts=("start.test",)),
        host_map={"start.test": "127.0.0.1", "internal.test": "127.0.0.1"},
    )
    server.add_redirect("/go", f"http://internal.test:{raw.port}/admin")
    with pytest.raises(UnsafeUrlError):
        await fetcher.fetch(server.url("/go", host="start.test"), dest, CAP)
    assert raw.connections == 0


async def test_resolver_hook_result_is_checked(raw: RawServer, dest: Path) -> None:
    async def rebinding_resolver(host: str, port: int) -> list[str]:
        return ["10.1.2.3", "fd00::1"]

    fetcher = SafeLinkFetcher(LinkSettings(), resolver=rebinding_resolver)
    with pytest.raises(UnsafeUrlError, match="private"):
        await fetcher.fetch("http://innocent.example/a.mp3", dest, CAP)


async def test_too_many_redirects(server: LinkServer, fetcher: SafeLinkFetcher, dest: Path) -> None:
    for i in range(10):
        server.add_redirect(f"/r{i}", f"/r{i + 1}")
    with pytest.raises(FetchError, match="redirects too many times"):
        await fetcher.fetch(server.url("/r0"), dest, CAP)
    assert len(server.seen) == 6


@pytest.mark.parametrize(
    "template",
    [
        "http://0x7f000001:{port}/",
        "http://2130706433:{port}/",
        "http://0177.0.0.1:{port}/",
        "http://127.1:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://[::ffff:7f00:1]:{port}/",
        "http://[::1]:{port}/",
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://0.0.0.0:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1:{port}/",
        "http://[fe80::1]:{port}/",
        "http://224.0.0.1:{port}/",
        "file:///etc/passwd",
        "gopher://x/",
        "ftp://127.0.0.1:{port}/",
        "http://user:pw@127.0.0.1:{port}/",
    ],
)
async def test_blocked_urls_are_refused_before_any_byte(
    template: str, raw: RawServer, strict_fetcher: SafeLinkFetcher, dest: Path
) -> None:
    with pytest.raises(UnsafeUrlError):
        await strict_fetcher.fetch(template.format(port=raw.port), dest, CAP)
    assert raw.connections == 0 and raw.received == b""
    assert leftovers(dest) == []


async def test_ytdlp_requests_go_through_the_guard(server: LinkServer, raw: RawServer, dest: Path) -> None:
    """yt-dlp follows the /s/ redirect itself; its connection to loopback is refused."""
    fetcher = SafeLinkFetcher(LinkSettings(allow_hosts=("suno.com",)), host_map={"suno.com": "127.0.0.1"})
    server.add_redirect("/s/evil", f"http://127.0.0.1:{raw.port}/song/{SONG_ID}")
    with pytest.raises(UnsafeUrlError):
        await fetcher.fetch(server.url("/s/evil", host="suno.com"), dest, CAP)
    assert server.paths() == ["/s/evil"]
    assert raw.connections == 0


def test_address_notations() -> None:
    assert str(literal_address("0x7f000001")) == "127.0.0.1"
    assert str(literal_address("2130706433")) == "127.0.0.1"
    assert str(literal_address("0177.0.0.1")) == "127.0.0.1"
    assert literal_address("suno.com") is None
    assert literal_address("0xcafe.example") is None
    assert blocked_reason(literal_address("::ffff:10.0.0.1")) is not None  # type: ignore[arg-type]
    assert blocked_reason(literal_address("64:ff9b::7f00:1")) is not None  # type: ignore[arg-type]
    assert blocked_reason(literal_address("93.184.216.34")) is None  # type: ignore[arg-type]
    assert parse_url("HTTPS://Suno.COM./song/x#frag").url == "https://suno.com/song/x"


async def test_allow_ranges_let_tests_reach_loopback() -> None:
    guard = AddressGuard(allowed_settings())
    assert await guard.resolve_allowed("127.0.0.1", 80) == ["127.0.0.1"]
    with pytest.raises(UnsafeUrlError):
        await guard.resolve_allowed("127.0.0.2", 80)


# --- timeouts -------------------------------------------------------------------------


async def test_stalled_download_times_out(server: LinkServer, dest: Path) -> None:
    fetcher = SafeLinkFetcher(allowed_settings(read_timeout_s=0.5))
    server.add_slow("/slow.mp3", delay_s=2)
    with pytest.raises(FetchError, match="[Tt]imed out"):
        await fetcher.fetch(server.url("/slow.mp3"), dest, CAP)
    assert leftovers(dest) == []


async def test_dns_rebinding_is_caught_at_connect_time(server: LinkServer, dest: Path, mp3_bytes: bytes) -> None:
    """The pre-check sees an allowed address; the connection-time lookup gets a blocked one."""
    answers = iter([["127.0.0.1"], ["127.0.0.9"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers, ["127.0.0.9"])

    server.add_bytes("/a.mp3", mp3_bytes)
    fetcher = SafeLinkFetcher(allowed_settings(), resolver=rebinding)
    with pytest.raises(UnsafeUrlError, match="loopback"):
        await fetcher.fetch(f"http://rebind.test:{server.port}/a.mp3", dest, CAP)
    assert server.seen == []


async def test_stalled_suno_page_times_out_inside_ytdlp(server: LinkServer, dest: Path) -> None:
    fetcher = SafeLinkFetcher(allowed_settings(read_timeout_s=0.5), host_map=SUNO_HOSTS)
    server.add_slow(f"/song/{SONG_ID}", delay_s=2, content_type="text/html")
    with pytest.raises(FetchError, match="[Tt]imed out"):
        await fetcher.fetch(server.url(f"/song/{SONG_ID}", host="suno.com"), dest, CAP)
