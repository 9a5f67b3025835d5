"""Inpaint and Extend actions as plain functions.

Inpaint: the current result's bird's-eye view becomes the background of a mask canvas; the painted
strokes (any colour) are the region to regenerate, optionally within a frame range. The candidate is
shown before | after, with the mask outlined, and replaces the current result only when accepted.
Extend: one more clip that continues the current result (optionally along more clicked path).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.figures import bird_eye_picture
from app.handlers import SceneView, SessionState, present
from core.conditions.drawings import image_from_grid, mask_from_image
from core.postprocess import vehicle_cleanup
from core.types import InputError, OccupancySequence, ProgressCallback, RenderSettings, SamplerSettings, SceneService

CANVAS = 512
MAX_SHARE = 0.95  # a mask over (almost) everything is a new scene: use Generate instead


@dataclass(frozen=True)
class Candidate:
    """An inpainting result waiting to be accepted or retried."""

    scene: OccupancySequence
    mask: np.ndarray
    frames: range | None
    seed: int


def mask_canvas(state: SessionState) -> dict:
    if state.scene is None:
        raise InputError("no scene yet: generate or open one, then paint the region to regenerate")
    return {"background": bird_eye_picture(state.scene), "layers": [], "composite": None}


def painted_mask(value: Any, scene: OccupancySequence) -> np.ndarray:
    """(X, Y) bool from the editor's stroke layers: True where any stroke was painted."""
    layers = value.get("layers") if isinstance(value, dict) else None
    if not layers:
        raise InputError("the inpainting mask is empty: paint the region to regenerate")
    alpha = np.max([np.asarray(layer)[:, :, 3] for layer in layers if layer is not None], axis=0)
    strokes = np.zeros(alpha.shape + (4,), np.uint8)
    strokes[alpha > 0] = 255
    mask = mask_from_image(strokes, scene.grid)
    if mask.mean() > MAX_SHARE:
        raise InputError("the mask covers the whole scene: use Generate for a new scene instead")
    return mask


def frame_range(start: Any, stop: Any, frames: int) -> range | None:
    """Frames start..stop-1, or None for all; the range must lie inside the scene."""
    start, stop = int(start), int(stop)
    if start == 0 and stop >= frames:
        return None
    if not 0 <= start < stop <= frames:
        raise InputError(f"frame range must satisfy 0 ≤ start < stop ≤ {frames}, got {start}..{stop}")
    return range(start, stop)


def outlined(picture: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The picture with the mask's border drawn in red."""
    cells = image_from_grid(mask)
    scale = picture.shape[0] // cells.shape[0]
    big = np.kron(cells, np.ones((scale, scale), bool))
    border = big & ~(np.roll(big, 1, 0) & np.roll(big, -1, 0) & np.roll(big, 1, 1) & np.roll(big, -1, 1))
    out = picture[: big.shape[0], : big.shape[1], :3].copy()
    out[border] = (230, 30, 30)
    return out


def inpaint(service: SceneService, state: SessionState, canvas: Any, start: Any, stop: Any, steps: Any, seed: Any,
            on_progress: ProgressCallback | None = None, *, vehicles: str = "as decoded") -> tuple[Candidate, str, np.ndarray]:
    """Regenerate the painted region (`vehicles`: a clean-up, `core.postprocess.vehicle_cleanup`); returns
    the candidate, a before | after video and picture."""
    if state.scene is None:
        raise InputError("no scene yet: generate or open one first")
    mask = painted_mask(canvas, state.scene)
    frames = frame_range(start, stop, state.scene.num_frames)
    settings = SamplerSettings(steps=int(steps), seed=int(seed), **vehicle_cleanup(vehicles))
    result = service.inpaint(state.scene, mask, settings, frames=frames, on_progress=on_progress)
    video = str(Path(state.folder) / f"inpaint_{state.counter}_{settings.seed}.mp4")
    service.render_comparison(state.scene, result, video, settings=RenderSettings(camera="bev", width=480, height=360),
                              titles=("before", "after"), on_progress=on_progress)
    picture = np.concatenate([outlined(bird_eye_picture(state.scene), mask), np.full((CANVAS, 8, 3), 255, np.uint8),
                              outlined(bird_eye_picture(result), mask)], axis=1)
    return Candidate(result, mask, frames, settings.seed), video, picture


def accept(service: SceneService, state: SessionState, candidate: Candidate | None, camera: str,
           on_progress: ProgressCallback | None = None) -> tuple[SessionState, SceneView]:
    if candidate is None:
        raise InputError("nothing to accept yet: regenerate a region first")
    return present(service, state, candidate.scene, camera, on_progress)


def extend(service: SceneService, state: SessionState, steps: Any, seed: Any, camera: str,
           on_progress: ProgressCallback | None = None, *, vehicles: str = "as decoded") -> tuple[SessionState, SceneView]:
    """Continue the current result by one clip (a still or straight ego: no new path is given here;
    `vehicles` as in `inpaint`)."""
    if state.scene is None:
        raise InputError("no scene yet: generate or open one first")
    settings = SamplerSettings(steps=int(steps), seed=int(seed), **vehicle_cleanup(vehicles))
    longer = service.extend(state.scene, settings, on_progress=on_progress)
    return present(service, state, longer, camera, on_progress)
