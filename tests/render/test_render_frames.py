"""Rendered frames with both backends: not blank, palette colours present, not mirrored, presets differ."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.palette import CLASS, PALETTE
from core.render import render_frames
from core.render.backends import BACKGROUND_RGB
from core.types import InputError, OccupancySequence, RenderSettings

BACKENDS = ("pyvista", "open3d")
TOP_VISIBLE = ("road", "ground", "sidewalk", "building", "vehicle", "vegetation", "pole")


def first_frames(scene: OccupancySequence, count: int) -> OccupancySequence:
    poses = None if scene.poses is None else scene.poses[:count]
    return OccupancySequence(scene.labels[:count], scene.grid.with_frames(count), poses=poses)


@pytest.fixture(scope="module")
def short_city(cpu_city) -> OccupancySequence:
    return first_frames(cpu_city, 2)


@pytest.fixture(scope="module")
def bev_frames(short_city) -> dict[str, list[np.ndarray]]:
    settings = {b: RenderSettings(camera="bev", backend=b, legend=False) for b in BACKENDS}
    return {b: render_frames(short_city, s) for b, s in settings.items()}


def pixels_of(image: np.ndarray, class_name: str) -> np.ndarray:
    """(N, 2) row, column of the pixels showing the class's exact (unshaded, top-face) colour."""
    return np.argwhere((image == PALETTE.colors[CLASS[class_name]]).all(axis=-1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_frames_are_images_and_not_blank(bev_frames, backend):
    frames = bev_frames[backend]
    assert len(frames) == 2
    assert all(f.shape == (480, 640, 3) and f.dtype == np.uint8 for f in frames)
    background = (frames[0] == BACKGROUND_RGB).all(axis=-1).mean()
    assert 0.05 < background < 0.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_top_faces_show_exact_palette_colours_and_free_is_not_drawn(bev_frames, backend):
    image = bev_frames[backend][0]
    for name in TOP_VISIBLE:
        assert len(pixels_of(image, name)) >= 4, name
    assert len(pixels_of(image, "free")) == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_bev_is_not_mirrored(bev_frames, backend):
    image = bev_frames[backend][0]
    building = pixels_of(image, "building").mean(axis=0)  # ahead (+X) and right (-Y) of the ego
    tree = pixels_of(image, "vegetation").mean(axis=0)  # on the left (+Y)
    assert building[0] < 240 and building[1] > 320
    assert tree[1] < 320


def test_backends_agree(bev_frames):
    difference = np.abs(bev_frames["pyvista"][0].astype(int) - bev_frames["open3d"][0].astype(int)).max(axis=-1)
    assert (difference > 40).mean() < 0.02


@pytest.fixture(scope="module")
def preset_frames(short_city) -> dict[str, np.ndarray]:
    return {c: render_frames(short_city, RenderSettings(camera=c, legend=False))[0] for c in ("bev", "chase", "orbit")}


def test_camera_presets_give_different_images(preset_frames):
    names = list(preset_frames)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert np.abs(preset_frames[a].astype(int) - preset_frames[b].astype(int)).mean() > 10, (a, b)


def test_chase_view_has_plus_y_on_the_left(preset_frames):
    image = preset_frames["chase"]
    assert pixels_of(image, "building")[:, 1].mean() > 320
    assert pixels_of(image, "vegetation")[:, 1].mean() < 320


def test_legend_lists_present_classes_in_the_corner(short_city, bev_frames):
    with_legend = render_frames(short_city, RenderSettings(camera="bev"))[0]
    changed = np.argwhere((with_legend != bev_frames["pyvista"][0]).any(axis=-1))
    assert len(changed) > 100 and changed.max(axis=0).tolist() < [240, 320]
    corner = with_legend[:200, :150]
    assert len(pixels_of(corner, "bicycle")) == 0  # not in the scene, so not listed
    assert len(pixels_of(corner, "pedestrian")) == 0
    assert len(pixels_of(corner, "pole")) >= 16


def test_progress_reports_every_frame(tiny_scene):
    events = []
    render_frames(tiny_scene, RenderSettings(width=64, height=48), on_progress=events.append)
    assert [(e.stage, e.step, e.total) for e in events] == [("rendering", 1, 2), ("rendering", 2, 2)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_scene_renders_background(tiny_scene, backend):
    empty = OccupancySequence(np.zeros_like(tiny_scene.labels), tiny_scene.grid)
    frames = render_frames(empty, RenderSettings(width=64, height=48, backend=backend, legend=False))
    assert all((f == BACKGROUND_RGB).all() for f in frames)


def test_class_without_palette_colour_is_an_input_error(tiny_scene):
    grid = tiny_scene.grid.__class__(2, tiny_scene.grid.cells, tiny_scene.grid.voxel_size, tiny_scene.grid.origin, 16)
    labels = tiny_scene.labels.copy()
    labels[0, 0, 0, 0] = 14
    with pytest.raises(InputError, match="no palette colour"):
        render_frames(OccupancySequence(labels, grid), RenderSettings(width=64, height=48))
