"""Scene → frames → video: the rendering stages the app, the API and the CLI call.

Each frame is meshed (exposed faces only), coloured from the palette with the face shading baked in,
drawn by one reused backend renderer from the camera preset's view of that frame, and stamped with the
legend of the classes present anywhere in the scene (so the legend does not flicker as things move).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.data.palette import PALETTE
from core.render.backends import FrameRenderer, make_renderer
from core.render.camera import camera_views, grid_to_display
from core.render.legend import draw_legend
from core.render.mesh import FaceMesh, exposed_faces, shaded_face_colors
from core.render.video import pair_frames, prepare_output, side_by_side_frame, write_video
from core.types import InputError, OccupancySequence, ProgressCallback, ProgressEvent, RenderSettings

STAGE = "rendering"


def check_scene(scene: OccupancySequence) -> None:
    """InputError unless `scene` is an OccupancySequence whose class ids all have a palette colour."""
    if not isinstance(scene, OccupancySequence):
        raise InputError(f"expected an OccupancySequence to render, got {type(scene).__name__}")
    top = int(scene.labels.max())
    if top >= len(PALETTE.colors):
        raise InputError(f"class id {top} has no palette colour (the palette has {len(PALETTE.colors)} classes)")


def present_classes(scene: OccupancySequence) -> tuple[int, ...]:
    """Sorted ids of the drawable classes (not free) that occur anywhere in the scene."""
    counts = np.bincount(scene.labels.ravel(), minlength=len(PALETTE.colors))
    return tuple(int(c) for c in np.flatnonzero(counts) if c != 0)


def place(mesh: FaceMesh, transform: np.ndarray) -> FaceMesh:
    """The mesh with its vertices moved by a 4×4 rigid transform (no copy for the identity)."""
    if np.allclose(transform, np.eye(4)):
        return mesh
    vertices = mesh.vertices.astype(np.float64) @ transform[:3, :3].T + transform[:3, 3]
    return dataclasses.replace(mesh, vertices=vertices.astype(np.float32))


def _report(on_progress: ProgressCallback | None, step: int, total: int) -> None:
    if on_progress is not None:
        on_progress(ProgressEvent(stage=STAGE, step=step, total=total))


def render_with(
    renderer: FrameRenderer, scene: OccupancySequence, settings: RenderSettings,
    on_progress: ProgressCallback | None = None, *, done: int = 0, total: int | None = None,
) -> list[np.ndarray]:
    """Frames of `scene` drawn by an open renderer; progress counts on from `done` out of `total`."""
    check_scene(scene)
    total = scene.num_frames if total is None else total
    views = camera_views(scene, settings.camera, settings.width / settings.height)
    placements = grid_to_display(scene)
    classes = present_classes(scene)
    frames = []
    for t in range(scene.num_frames):
        mesh = place(exposed_faces(scene.labels[t], scene.grid), placements[t])
        image = renderer.render(mesh, shaded_face_colors(mesh, PALETTE.colors), views[t])
        frames.append(draw_legend(image, classes) if settings.legend else image)
        _report(on_progress, done + t + 1, total)
    return frames


def render_frames(
    scene: OccupancySequence, settings: RenderSettings | None = None, on_progress: ProgressCallback | None = None,
) -> list[np.ndarray]:
    """One (H, W, 3) uint8 image per frame of `scene`, as `settings` (camera, size, backend) say."""
    settings = settings or RenderSettings()
    check_scene(scene)
    renderer = make_renderer(settings.backend, settings.width, settings.height)
    try:
        return render_with(renderer, scene, settings, on_progress)
    finally:
        renderer.close()


def render_video(
    scene: OccupancySequence, path: str | os.PathLike, settings: RenderSettings | None = None,
    on_progress: ProgressCallback | None = None,
) -> Path:
    """Render `scene` to an .mp4 (H.264) or .gif at `path`, chosen by suffix; returns the path."""
    settings = settings or RenderSettings()
    path = prepare_output(path)
    return write_video(render_frames(scene, settings, on_progress), path, settings.fps)


def side_by_side(
    scene_a: OccupancySequence, scene_b: OccupancySequence, path: str | os.PathLike,
    settings: RenderSettings | None = None, titles: Sequence[str] = ("input", "reconstruction"),
    on_progress: ProgressCallback | None = None,
) -> Path:
    """A video of two scenes next to each other under titles, each drawn at the settings' size."""
    settings = settings or RenderSettings()
    path = prepare_output(path)
    if len(titles) != 2:
        raise InputError(f"side_by_side needs 2 titles, got {len(titles)}")
    check_scene(scene_a)
    check_scene(scene_b)
    total = scene_a.num_frames + scene_b.num_frames
    renderer = make_renderer(settings.backend, settings.width, settings.height)
    try:
        left = render_with(renderer, scene_a, settings, on_progress, total=total)
        right = render_with(renderer, scene_b, settings, on_progress, done=scene_a.num_frames, total=total)
    finally:
        renderer.close()
    pair_titles = (str(titles[0]), str(titles[1]))
    frames = [side_by_side_frame(a, b, pair_titles) for a, b in pair_frames(left, right)]
    return write_video(frames, path, settings.fps)
