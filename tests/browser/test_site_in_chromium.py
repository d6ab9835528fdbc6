"""The public site in a real browser: Debian's chromium driven by Playwright (never its own download).

Opens the home page, follows a track link, plays the audio (readyState >= 2 and currentTime
advances), seeks (the browser asks for a byte range), searches a prompt, and saves
screenshots of the home and the track page at phone and desktop widths.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Request, async_playwright

from bots.runtime import open_instance
from bots.web.site import web_server_for
from config import load_settings
from core.model import Declaration
from tests.support.audio import make_mp3
from tests.support.factories import member
from tests.support.instances import write_config

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--mute-audio",  # no sound device on a test machine; playback still advances
    "--autoplay-policy=no-user-gesture-required",
]
# name -> (width, height, colour scheme)
VIEWS = {"phone": (390, 844, "light"), "desktop": (1280, 900, "light"), "phone-dark": (390, 844, "dark")}
WAIT_MS = 20_000
# WCAG contrast of each text kind against the page background (AA: 4.5 for body text)
CONTRAST_JS = """
() => {
  const rgb = c => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const lum = c => { const [r, g, b] = rgb(c).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                     return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const bg = getComputedStyle(document.body).backgroundColor;
  const out = {};
  for (const sel of ['body', 'a', '.meta', 'h1']) {
    const el = document.querySelector(sel); if (!el) continue;
    const [hi, lo] = [lum(getComputedStyle(el).color), lum(bg)].sort((x, y) => y - x);
    out[sel] = (hi + 0.05) / (lo + 0.05);
  }
  return out;
}
"""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is installed by .ci/setup --test"),
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def _screenshots(browser: Browser, url: str, name: str, out: Path) -> None:
    for view, (width, height, scheme) in VIEWS.items():
        page = await browser.new_page(viewport={"width": width, "height": height}, color_scheme=scheme)  # type: ignore[arg-type]
        try:
            await page.goto(url)
            shot = out / f"{name}-{view}.png"
            await page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 1000
            # readable on a phone: nothing wider than the screen
            assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert (background == "rgb(18, 19, 23)") == (scheme == "dark"), background
            contrast = await page.evaluate(CONTRAST_JS)
            assert contrast and min(contrast.values()) >= 4.5, contrast
            # every field has a label a screen reader reads; the first Tab lands on the skip link
            unlabelled = await page.evaluate(
                "[...document.querySelectorAll('input, select, textarea')]"
                ".filter(i => !(i.labels && i.labels.length) && !i.getAttribute('aria-label')).length"
            )
            assert unlabelled == 0
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.className") == "skip"
        finally:
            await page.close()


async def test_a_visitor_opens_a_track_plays_seeks_and_searches_prompts(tmp_path: Path, browser: Browser) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "data")
    async with open_instance(load_settings(config, environ={})) as instance:
        track = (
            await instance.app.share.share_file(
                make_mp3(tmp_path / "long.mp3", 120, 3),
                member("alice"),
                Declaration(title="Harbour lights", prompt="slow synthwave harbour at night", genre="synthwave"),
                filename="long.mp3",
            )
        ).track
        web = web_server_for(instance)
        await web.start("127.0.0.1", 0)
        base = f"http://127.0.0.1:{web.port}"
        try:
            page: Page = await browser.new_page()
            ranges: list[str] = []

            async def seen(request: Request) -> None:
                if "/blobs/" in request.url:
                    header = (await request.all_headers()).get("range")
                    if header:
                        ranges.append(header)

            page.on("request", seen)
            await page.goto(base + "/")
            await page.get_by_role("link", name="Harbour lights").first.click()
            await page.wait_for_url(f"{base}/tracks/{track.id}")
            assert await page.title() == "Harbour lights — A Wavepool community"

            audio = page.locator("audio#player")
            await audio.evaluate("a => a.play()")
            await page.wait_for_function(
                "() => { const a = document.querySelector('audio'); return a.readyState >= 2 && a.currentTime > 0.3 }",
                timeout=WAIT_MS,
            )
            before = len(ranges)
            await audio.evaluate("a => { a.currentTime = 100 }")
            await page.wait_for_function(
                "() => { const a = document.querySelector('audio'); return a.currentTime >= 100.2 && a.readyState >= 2 }",
                timeout=WAIT_MS,
            )
            later = [r for r in ranges[before:] if not r.startswith("bytes=0-")] or [
                r for r in ranges if not r.startswith("bytes=0-")
            ]
            assert later, f"no Range request after seeking; saw {ranges}"

            await page.goto(base + "/prompts")
            await page.get_by_label("Search prompts and styles").fill("harbour")
            await page.get_by_label("Search prompts and styles").press("Enter")
            await page.wait_for_url(f"{base}/prompts?q=harbour")
            assert "slow synthwave harbour at night" in await page.locator("main").inner_text()
            await page.close()

            out = tmp_path / "screenshots"
            out.mkdir()
            await _screenshots(browser, base + "/", "home", out)
            await _screenshots(browser, f"{base}/tracks/{track.id}", "track", out)
        finally:
            await web.stop()


async def test_the_player_reports_a_play_after_some_seconds_of_listening(tmp_path: Path, browser: Browser) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "data")
    async with open_instance(load_settings(config, environ={})) as instance:
        app = instance.app
        assert app.curation is not None
        track = (
            await app.share.share_file(
                make_mp3(tmp_path / "long.mp3", 30, 3),
                member("alice"),
                Declaration(title="Harbour lights", genre="synthwave"),
                filename="long.mp3",
            )
        ).track
        web = web_server_for(instance)
        await web.start("127.0.0.1", 0)
        base = f"http://127.0.0.1:{web.port}"
        try:
            page: Page = await browser.new_page()
            blocked: list[str] = []
            page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
            await page.goto(f"{base}/tracks/{track.id}")
            assert await app.curation.store.plays_since(None) == []
            async with page.expect_request(
                lambda r: r.method == "POST" and r.url == f"{base}/tracks/{track.id}/play", timeout=WAIT_MS
            ) as reported:
                await page.locator("audio#player").evaluate("a => a.play()")
            response = await (await reported.value).response()
            assert response is not None and response.status == 204
            # played for the threshold (8 s), not at once: the report waited for the listening
            assert await page.evaluate("document.querySelector('audio').currentTime") >= 7.5
            assert [t for t, _ in await app.curation.store.plays_since(None)] == [track.id]
            assert not blocked, blocked
            await page.close()
        finally:
            await web.stop()
