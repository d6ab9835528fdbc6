"""The HTTP server: health, metrics, and verified blob serving for peers."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bots.runtime import open_instance
from bots.web.server import WebServer
from config import load_settings
from tests.support.audio import make_mp3
from tests.support.factories import member
from tests.support.instances import write_config


async def test_health_metrics_and_blobs(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "data")
    async with open_instance(load_settings(config, environ={})) as instance:
        web = WebServer(instance.app)
        await web.start("127.0.0.1", 0)
        try:
            path = make_mp3(tmp_path / "a.mp3", 3, 1)
            track = (await instance.app.share.share_file(path, member("alice"), filename="a.mp3")).track
            base = f"http://127.0.0.1:{web.port}"
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base}/healthz") as response:
                    assert response.status == 200 and (await response.json())["tracks"] == 1
                async with http.get(f"{base}/metrics") as response:
                    text = await response.text()
                    assert "wavepool_tracks 1" in text and 'stage="quality"' in text
                async with http.get(f"{base}/blobs/{track.cid}") as response:
                    assert response.status == 200 and await response.read() == path.read_bytes()
                async with http.get(f"{base}/blobs/not-a-cid") as response:
                    assert response.status == 400
                await instance.app.moderation.takedown(track.id, member("mod"), "test")
                async with http.get(f"{base}/blobs/{track.cid}") as response:
                    assert response.status == 404
        finally:
            await web.stop()
