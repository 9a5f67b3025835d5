"""Plotly figure of one frame: light JSON, shared vertices, colours mid-bin, free space absent."""

from __future__ import annotations

import numpy as np
import plotly.colors
import pytest

from core.data.palette import CLASS, PALETTE
from core.render import exposed_faces, frame_figure
from core.render.mesh import DIRECTIONS, SHADE
from core.types import GridSpec, InputError, OccupancySequence


def dense_city_frame(seed: int = 0) -> OccupancySequence:
    """A busy cpu-preset frame: ground plan, many buildings, ragged tree crowns, cars, poles."""
    rng = np.random.default_rng(seed)
    grid = GridSpec.preset("cpu").with_frames(1)
    labels = np.zeros(grid.shape, dtype=np.uint8)
    labels[0, :, :, 0] = CLASS["ground"]
    labels[0, :, 24:40, 0] = CLASS["sidewalk"]
    labels[0, :, 27:37, 0] = CLASS["road"]
    labels[0, 24:40, :, 0] = CLASS["road"]
    for _ in range(16):
        x, y = rng.integers(0, 56, 2)
        labels[0, x:x + rng.integers(3, 9), y:y + rng.integers(3, 9), 1:rng.integers(3, 8)] = CLASS["building"]
    crowns = rng.random((64, 64, 3)) < 0.25
    labels[0, :, :, 4:7][crowns & (labels[0, :, :, 4:7] == 0)] = CLASS["vegetation"]
    for _ in range(20):
        x, y = rng.integers(0, 60, 2)
        labels[0, x:x + 4, y:y + 2, 1:3] = CLASS["vehicle"]
    poles = rng.random((64, 64)) < 0.02
    labels[0, poles, 1:5] = CLASS["pole"]
    return OccupancySequence(labels, grid)


def test_dense_cpu_frame_json_is_under_one_megabyte():
    scene = dense_city_frame()
    faces = exposed_faces(scene.labels[0], scene.grid).num_faces
    text = frame_figure(scene, 0).to_json()
    assert faces > 20_000  # genuinely busy
    assert len(text.encode()) < 1_000_000


def test_mesh_arrays_are_small_dtypes_with_shared_vertices(cpu_city):
    mesh = exposed_faces(cpu_city.labels[0], cpu_city.grid)
    trace = frame_figure(cpu_city, 0).data[0]
    assert trace.type == "mesh3d"
    assert np.asarray(trace.x).dtype == np.float32 and np.asarray(trace.i).dtype == np.uint16
    assert len(trace.x) == len(mesh.vertices) < 4 * mesh.num_faces
    assert len(trace.i) == 2 * mesh.num_faces and trace.intensitymode == "cell"


def colour_at(scale, value: float, cmin: float, cmax: float) -> str:
    position = (value - cmin) / (cmax - cmin)
    for (low, colour), (high, _) in zip(scale[::2], scale[1::2]):
        if low < position < high:
            return colour
    raise AssertionError(f"{value} falls on a band edge")


def test_each_face_maps_mid_band_to_its_shaded_class_colour(cpu_city):
    trace = frame_figure(cpu_city, 0).data[0]
    bands = np.unique(np.asarray(trace.intensity))
    scale = [list(stop) for stop in trace.colorscale]
    for band in bands:
        class_id, direction = divmod(int(band), len(DIRECTIONS))
        assert class_id != 0
        expected = np.clip(PALETTE.colors[class_id] * SHADE[direction] + 0.5, 0, 255).astype(int)
        got = plotly.colors.unlabel_rgb(colour_at(scale, band, trace.cmin, trace.cmax))
        assert tuple(int(v) for v in got) == tuple(expected)


def test_legend_names_present_classes_and_aspect_is_data(cpu_city):
    figure = frame_figure(cpu_city, 0)
    names = [t.name for t in figure.data[1:]]
    assert names == ["building", "pole", "road", "ground", "sidewalk", "vegetation", "vehicle"]
    assert figure.layout.scene.aspectmode == "data"


def test_frame_out_of_range(cpu_city):
    with pytest.raises(InputError, match="out of range"):
        frame_figure(cpu_city, 16)
