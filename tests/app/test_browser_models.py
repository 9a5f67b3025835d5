"""The app on the shipped models in a real browser: generate, take the recipe away and bring it back to
the very same scene, go back through the session gallery, and repair a region by inpainting.

STUDIO_TEST_CHECKPOINTS points the test at another checkpoints folder (default: the shipped one);
SCREENSHOTS=folder also saves the README's pictures of each view along the way.
"""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.app.test_browser import ARGS, CHROMIUM, serve
from tests.app.test_browser_author import click_path, image_box, stroke, updates_preview

CHECKPOINTS = Path(os.environ.get("STUDIO_TEST_CHECKPOINTS", Path(__file__).resolve().parents[2] / "checkpoints"))

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Debian's chromium"),
    pytest.mark.skipif(not (CHECKPOINTS / "dit_cpu").is_dir(), reason="needs the trained checkpoints"),
]

RESULTS = "() => document.querySelectorAll('#gallery button img').length"  # each new result adds one
IDLE = "() => document.querySelector('#summary [data-testid=status-tracker]').classList.contains('hide')"
PLAYING = "() => { const v = document.querySelector('#video video'); return v && v.currentTime > 0.2 && !v.paused; }"


@pytest.fixture(scope="module")
def app_url():
    from core.api import SceneGenerator

    yield from serve(SceneGenerator(checkpoints=CHECKPOINTS))


def download(page, selector: str, path: Path) -> Path:
    with page.expect_download() as pending:
        page.locator(selector).first.click()
    pending.value.save_as(path)
    return path


def snap(page, name: str) -> None:
    if os.environ.get("SCREENSHOTS"):
        page.screenshot(path=str(Path(os.environ["SCREENSHOTS"]) / name), full_page=True)


def wait_for_new_result(page, action) -> None:
    """Do `action`, then wait until the job is over, the session gallery has one more result and the video
    plays (a changed summary is not enough: it shows progress while the job runs, and a scene regenerated
    from its recipe has the same summary; the downloads would still be the previous result's)."""
    before = page.evaluate(RESULTS)
    action()
    page.wait_for_function(f"(old) => ({IDLE})() && ({RESULTS})() === old + 1", arg=before, timeout=120_000)
    page.wait_for_function(PLAYING, timeout=60_000)


def test_recipe_round_trip_gallery_and_inpainting(app_url, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
        page.goto(app_url)
        page.locator("#generate").wait_for()
        updates_preview(page, page.get_by_role("button", name="Start from the example").click)  # the crossroads
        click_path(page, [(0.5, 0.5), (0.5, 0.4), (0.5, 0.3), (0.5, 0.2)])  # straight up the road
        wait_for_new_result(page, page.locator("#generate").click)
        generated = np.load(download(page, "#download-npz", tmp_path / "generated.npz"))["labels"]
        page.wait_for_timeout(2500)  # let the 3D view draw
        snap(page, "app_author.png")

        page.get_by_text("Export for other tools").click()
        page.locator("#export-recipe").click()
        page.locator("#export-file a").first.wait_for(timeout=30_000)
        recipe = download(page, "#export-file a", tmp_path / "recipe.json")

        page.get_by_role("tab", name="Open a scene").click()
        page.locator("#upload input[type=file]").set_input_files(str(recipe))
        wait_for_new_result(page, page.locator("#open-file").click)
        again = np.load(download(page, "#download-npz", tmp_path / "again.npz"))["labels"]
        assert np.array_equal(generated, again)  # the recipe made the very same scene
        assert page.evaluate(RESULTS) == 2  # the gallery holds both results
        page.get_by_role("tab", name="Inpaint & extend").click()
        page.locator("#load-for-inpaint").click()
        page.wait_for_timeout(1500)
        page.locator("#mask-canvas button[aria-label='Brush']").first.click()
        box = image_box(page, "#mask-canvas")
        stroke(page, box, [(0.1, 0.1), (0.35, 0.1), (0.35, 0.3), (0.1, 0.3), (0.1, 0.12)])  # top-left of the view
        page.locator("#inpaint").click()
        page.wait_for_function(
            "() => { const v = document.querySelector('#comparison video'); return v && v.readyState >= 2; }", timeout=120_000)
        page.wait_for_timeout(1500)
        snap(page, "app_inpaint.png")
        wait_for_new_result(page, page.locator("#accept-inpaint").click)
        repaired = np.load(download(page, "#download-npz", tmp_path / "repaired.npz"))["labels"]
        assert page.evaluate(RESULTS) == 3
        page.locator("#gallery").scroll_into_view_if_needed()
        snap(page, "app_gallery.png")
        browser.close()
    changed = (repaired != again).any(axis=(0, 3))  # (X, Y) columns that differ
    assert changed.any()
    xs, ys = np.nonzero(changed)
    # top-left of the picture is large x, large y (the view looks down with +X up and +Y left)
    assert xs.min() >= 64 * 0.55 and ys.min() >= 64 * 0.55


def test_a_command_alone_shows_the_typical_path_it_was_given(app_url):
    """No layout, no path, command "left": after Generate the path view shows the made-up path, one
    yellow dot a frame, curving left from the ego car."""
    import io

    from PIL import Image
    from playwright.sync_api import sync_playwright

    from app.authoring import RECEIVED

    def received_pixels(page) -> tuple[np.ndarray, tuple]:
        picture = np.asarray(Image.open(io.BytesIO(page.locator("#trajectory img").screenshot())).convert("RGB"))
        return (np.abs(picture.astype(int) - RECEIVED).max(axis=2) < 40), picture.shape

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(app_url)
        page.locator("#generate").wait_for()
        page.locator("#trajectory img").wait_for()
        before, _ = received_pixels(page)
        page.get_by_label("command").click()
        page.get_by_role("option", name="left").click()
        wait_for_new_result(page, lambda: updates_preview(page, page.locator("#generate").click))
        after, (height, width, _) = received_pixels(page)
        page.wait_for_timeout(500)
        snap(page, "app_command_alone.png")
        browser.close()
    assert not before.any() and after.any()
    rows, cols = np.nonzero(after[:height * 7 // 8])  # above the caption
    assert rows.min() < height * 0.45 and cols.min() < width * 0.45  # ahead of the car and to its left
    assert abs(cols[rows.argmax()] - width / 2) < width * 0.05  # it starts at the car, in the centre
