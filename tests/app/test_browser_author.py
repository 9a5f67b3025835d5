"""The Author tab in a real browser: paint a layout with two brushes, click a 4-point path, Generate,
see the video play, and download the scene to check the painted layout reached the generator.

The generator here is the real SceneGenerator (saving, rendering) whose model stage is replaced by one
that writes the requested layout onto the ground layer, so the test checks the whole UI path without
trained weights.
"""

import shutil

import numpy as np
import pytest

from core.api import SceneGenerator
from core.data.palette import PALETTE
from core.types import GridSpec, OccupancySequence
from tests.app.test_browser import ARGS, CHROMIUM, serve

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Debian's chromium")]


class LayoutEcho(SceneGenerator):
    """Generate = paint the requested layout on the ground layer; remembers every request."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = []

    def scene_grid(self) -> GridSpec:
        return GridSpec.preset("cpu")

    def generate(self, request, on_progress=None) -> OccupancySequence:
        self.requests.append(request)
        grid = GridSpec.preset("cpu").with_frames(request.frames)
        labels = np.zeros(grid.shape, np.uint8)
        if request.conditions.layout is not None:
            labels[:, :, :, 0] = request.conditions.layout.static
        return OccupancySequence(labels, grid, metadata={"source": "generated", "recipe": {"echo": True}})


@pytest.fixture(scope="module")
def app():
    service = LayoutEcho()
    for url in serve(service):
        yield url, service


def pick_brush(page, index: int) -> None:
    page.locator("#canvas button[aria-label='Brush']").first.click()
    page.locator("#canvas button[aria-label='Color']").first.click()
    page.locator("#canvas button.color").nth(index).click()
    page.keyboard.press("Escape")  # close the swatches, or strokes under them are lost
    page.mouse.click(700, 60)
    page.wait_for_timeout(300)


def image_box(page, editor: str = "#canvas") -> dict:
    """The painted square inside an editor: centred in its canvas element, 512 px × the zoom shown."""
    element = page.locator(f"{editor} canvas").first.bounding_box()
    zoom = float(page.locator(editor).get_by_text("%").first.inner_text().strip().rstrip("%")) / 100
    side = 512 * zoom
    return {"x": element["x"] + (element["width"] - side) / 2, "y": element["y"] + (element["height"] - side) / 2,
            "width": side, "height": side}


def stroke(page, box, points) -> None:
    x0, y0 = points[0]
    page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=12)
    page.mouse.up()
    page.wait_for_timeout(300)


PREVIEW_SOURCE = "() => { const i = document.querySelector('#trajectory img'); return i ? i.src : ''; }"


def updates_preview(page, action) -> None:
    """Do `action` and wait until the server's new trajectory preview has replaced the old one, so the
    next click lands on the picture the server knows about (a click during the swap is lost)."""
    before = page.evaluate(PREVIEW_SOURCE)
    action()
    page.wait_for_function(f"(old) => ({PREVIEW_SOURCE})() !== old && document.querySelector('#trajectory img').complete",
                           arg=before, timeout=30_000)


def click_path(page, points) -> None:
    """Click waypoints (fractions of the preview picture), each once the previous one is drawn."""
    for fx, fy in points:
        box = page.locator("#trajectory img").bounding_box()
        updates_preview(page, lambda: page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"]))


def test_paint_click_generate_and_download(app, tmp_path):
    from playwright.sync_api import sync_playwright

    url, service = app
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.goto(url)
        page.locator("#canvas canvas").first.wait_for()
        box = image_box(page)
        pick_brush(page, 0)  # road: a vertical band up the middle
        stroke(page, box, [(0.5, 0.95), (0.5, 0.05)])
        pick_brush(page, 2)  # building: a block top-left
        stroke(page, box, [(0.1, 0.1), (0.3, 0.1), (0.3, 0.3), (0.1, 0.3), (0.1, 0.15)])
        updates_preview(page, page.get_by_role("button", name="Show my layout").click)
        click_path(page, [(0.5, 0.5), (0.5, 0.4), (0.5, 0.3), (0.45, 0.22)])
        page.locator("#generate").click()
        page.wait_for_function(
            "() => { const v = document.querySelector('#video video'); return v && v.currentTime > 0.2 && !v.paused; }",
            timeout=90_000,
        )
        with page.expect_download() as download:
            page.locator("#download-npz").click()
        saved = tmp_path / "scene.npz"
        download.value.save_as(saved)
        browser.close()
    request = service.requests[-1]
    assert request.conditions.trajectory is not None and request.conditions.trajectory.poses.shape == (16, 3)
    assert request.conditions.trajectory.poses[-1, 0] > 3  # the path goes up the view: forward
    assert request.sampler.remove_specks and not request.sampler.vehicle_boxes  # the app's default: specks removed
    ground = np.load(saved)["labels"][0, :, :, 0]
    road, building = PALETTE.class_id("road"), PALETTE.class_id("building")
    assert (ground[:, 30:34] == road).mean() > 0.8  # the band up the middle: x all along, y at the centre
    assert (ground[45:58, 45:58] == building).mean() > 0.5  # top-left of the picture: large x, large y
