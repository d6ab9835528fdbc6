"""Media sniffers: any bytes are a known container or NotAudioError, and the two sniffers agree."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from core.errors import NotAudioError
from storage.links.sniff import is_page, looks_like_audio, looks_like_page, media_type
from storage.media.sniff import Sniffed, sniff
from tests.property.strategies import PROPERTY_SETTINGS

MAGIC = {b"fLaC": "flac", b"OggS": "ogg"}
prefixes = st.sampled_from(
    [
        b"",
        b"ID3",
        b"ID3\x04\x00\x00",
        b"ID3\x04\x00\x10\x00\x00\x00\x7f",
        b"fLaC",
        b"OggS",
        b"RIFF\x00\x00\x00\x00WAVE",
        b"\x00\x00\x00\x18ftyp",
        b"\xff\xfb\x90\x00",
        b"\xff\xe0",
        b"<html",
        b"\xef\xbb\xbf<!doctype",
        b"%PDF",
        b"MZ",
        b"\x1a\x45\xdf\xa3",
    ]
)
heads = st.builds(lambda p, rest: p + rest, prefixes, st.binary(max_size=600))


def _sniff(data: bytes) -> Sniffed:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.bin"
        path.write_bytes(data)
        return sniff(path)


@PROPERTY_SETTINGS
@given(heads)
@example(b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f")  # a tag claiming 256 MB in a 10-byte file
@example(b"ID3\x04\x00\x10\x00\x00\x00\x00\xff\xfb\x90\x00")
def test_any_bytes_are_a_container_or_not_audio(data: bytes) -> None:
    try:
        found = _sniff(data)
    except NotAudioError as error:
        assert str(error)
        return
    assert found.container in ("mp3", "flac", "ogg", "m4a", "wav")
    assert found.media_type.startswith("audio/")
    # What ingest accepts, the link fetcher would also have taken for audio.
    assert looks_like_audio(data[:512])
    assert not is_page(None, data[:512])


@PROPERTY_SETTINGS
@given(st.sampled_from(sorted(MAGIC)), st.binary(max_size=200))
def test_magic_bytes_decide_the_container(magic: bytes, rest: bytes) -> None:
    assert _sniff(magic + rest).container == MAGIC[magic]


@PROPERTY_SETTINGS
@given(st.one_of(st.none(), st.text(max_size=60)), heads)
def test_link_sniffers_never_raise_and_audio_is_never_a_page(content_type: str | None, head: bytes) -> None:
    kind = media_type(content_type)
    assert kind == kind.strip().lower() and ";" not in kind
    page = is_page(content_type, head)
    assert isinstance(page, bool) and isinstance(looks_like_page(head), bool)
    if looks_like_audio(head):
        assert not page


@PROPERTY_SETTINGS
@given(st.text(max_size=400))
def test_html_and_text_bodies_are_pages_not_audio(text: str) -> None:
    body = ("<!doctype html><html>" + text).encode("utf-8")
    assert is_page("text/html; charset=utf-8", body[:512])
    assert not looks_like_audio(body)
