"""The real app in a real browser: headless Chromium opens it, makes a scene and sees the video play.

Set SCREENSHOT=path to also save a screenshot of the page (used for the README's picture).
"""

import os
import shutil
import time

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Debian's chromium (.ci/run installs it)"),
]


def serve(service):
    """Launch the app on `service` at a free local port; yields its URL, closes it afterwards."""
    from app import build_demo
    from app.handlers import SESSIONS_ROOT
    from launch import free_port

    demo = build_demo(service)
    demo.queue(default_concurrency_limit=1)
    SESSIONS_ROOT.mkdir(parents=True, exist_ok=True)
    port = free_port("127.0.0.1")
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                allowed_paths=[str(SESSIONS_ROOT)])
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def app_url():
    from core.api import SceneGenerator

    yield from serve(SceneGenerator())


def test_make_scene_and_watch_it_play(app_url, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(app_url)
        page.get_by_role("tab", name="Open a scene").click()
        page.locator("#seed input").fill("11")
        started = time.monotonic()
        page.locator("#make-scene").click()
        video = page.locator("#video video")
        video.wait_for(state="attached", timeout=60_000)
        page.wait_for_function(
            "() => { const v = document.querySelector('#video video'); return v && v.currentTime > 0.2 && !v.paused; }",
            timeout=60_000,
        )
        elapsed = time.monotonic() - started
        assert "seed 11" in page.locator("#summary").inner_text()
        page.wait_for_selector("#figure .js-plotly-plot", timeout=30_000)
        if os.environ.get("SCREENSHOT"):
            page.wait_for_timeout(1500)
            page.screenshot(path=os.environ["SCREENSHOT"], full_page=True)
        shown_video = video.get_attribute("src")

        # A broken upload is reported in one line; the scene and video shown before stay.
        broken = tmp_path / "broken.npz"
        broken.write_bytes(b"this is not a scene")
        page.locator("#upload input[type=file]").set_input_files(str(broken))
        page.locator("#open-file").click()
        page.get_by_text("no zip header").first.wait_for(timeout=30_000)
        assert "seed 11" in page.locator("#summary").inner_text()
        assert video.get_attribute("src") == shown_video
        browser.close()
    assert elapsed < 60, f"video took {elapsed:.1f} s to start playing"
