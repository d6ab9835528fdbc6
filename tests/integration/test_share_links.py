"""Sharing links end to end: the share command and `wavepool ingest <url>` through the instance."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.runtime import open_instance
from config import load_settings
from core.commands.declaration import Invocation, Permission
from core.commands.dispatch import execute
from core.model import Verdict
from tests.integration.test_links import SONG_ID, serve_suno, suno_page_with_flight_json
from tests.support.audio import make_mp3
from tests.support.instances import write_config
from tests.support.link_server import LinkServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def server() -> AsyncIterator[LinkServer]:
    running = await LinkServer().start()
    yield running
    await running.stop()


def _config(tmp_path: Path, **ingest: object) -> Path:
    config = write_config(
        tmp_path / "wavepool.toml",
        tmp_path / "data",
        links={"allow_ranges": ["127.0.0.1/32"], "connect_timeout_s": 3, "read_timeout_s": 3},
        ingest={"shares_per_window": 2, "share_window_s": 3600, **ingest},
    )
    with config.open("a") as handle:
        handle.write('[links.pinned_hosts]\n"suno.com" = "127.0.0.1"\n"cdn1.suno.test" = "127.0.0.1"\n')
    return config


def _member(name: str, args: dict[str, object]) -> Invocation:
    return Invocation(
        platform="matrix",
        user_id=f"@{name}:hs",
        display_name=name.capitalize(),
        place="!room:hs",
        permission=Permission.MEMBER,
        args=args,
    )


async def test_share_command_with_suno_link_and_rate_limit(server: LinkServer, tmp_path: Path) -> None:
    mp3 = make_mp3(tmp_path / "song.mp3", 3, 2).read_bytes()
    url = serve_suno(server, mp3, suno_page_with_flight_json(server.port))
    async with open_instance(load_settings(_config(tmp_path), environ={})) as instance:
        share = instance.registry.get("share")
        assert share is not None
        reply = await execute(share, _member("alice", {"url": url}))
        assert "error" not in reply.data, reply.text
        track = reply.cards[0]
        assert track.generator == "suno" and track.generator_song_id == SONG_ID
        assert track.title == "Neon Highway" and track.verdict is Verdict.VERIFIED
        assert track.source_url and SONG_ID in track.source_url
        assert any(e.source == "page" for e in track.evidence)
        assert track.genre == "synthwave"  # from the page's style tags
        prompts = await instance.app.prompts.search("driving")
        assert prompts, "the page's prompt went into the library"
        blocked = await execute(share, _member("alice", {"url": "http://[::ffff:127.0.0.2]/x.mp3"}))
        assert blocked.private and "error" in blocked.data
        for index in range(2):
            server.add_bytes(f"/direct{index}.mp3", make_mp3(tmp_path / f"d{index}.mp3", 3, 10 + index).read_bytes())
        ok = await execute(share, _member("bob", {"url": server.url("/direct0.mp3")}))
        assert "error" not in ok.data, ok.text
        ok = await execute(share, _member("bob", {"url": server.url("/direct1.mp3")}))
        assert "error" not in ok.data, ok.text
        limited = await execute(share, _member("bob", {"url": server.url("/direct1.mp3")}))
        assert limited.private and "limit here is 2" in limited.text


async def test_cli_ingest_url(server: LinkServer, tmp_path: Path) -> None:
    server.add_bytes("/track.mp3", make_mp3(tmp_path / "t.mp3", 3, 4).read_bytes())
    config = _config(tmp_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        "--config",
        str(config),
        "ingest",
        server.url("/track.mp3"),
        "--by",
        "alice",
        "--json",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    record = json.loads(out)
    assert record["source_url"].endswith("/track.mp3") and record["cid"].startswith("bafkrei")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        "--config",
        str(config),
        "ingest",
        "file:///etc/passwd",
        "--by",
        "alice",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1 and b"Traceback" not in err and err.strip()
