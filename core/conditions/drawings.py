"""Drawings → conditions (numpy): a painted bird's-eye layout, clicked waypoints, a painted mask.

Pictures follow the app's bird's-eye convention: +X (forward) points up and +Y (left) points left, so
image row 0 is the far end of the grid (largest x) and image column 0 its left edge (largest y).
`grid_from_image` / `image_from_grid` convert between that picture and (X, Y) grid arrays.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.data.palette import PALETTE
from core.types import GridSpec, InputError, Layout, Trajectory

TRANSPARENT_ALPHA = 128  # strokes below this alpha count as not painted

FREE_GREY = 235  # free (unpainted) columns in opaque bird's-eye pictures: light grey


def image_from_grid(array: np.ndarray) -> np.ndarray:
    """(X, Y, ...) grid array → picture (rows = X descending, columns = Y descending)."""
    return array[::-1, ::-1]


def grid_from_image(picture: np.ndarray) -> np.ndarray:
    """The inverse of `image_from_grid`."""
    return picture[::-1, ::-1]


def _resize_nearest(picture: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    rows = (np.arange(size[0]) + 0.5) * picture.shape[0] / size[0]
    cols = (np.arange(size[1]) + 0.5) * picture.shape[1] / size[1]
    return picture[rows.astype(int)][:, cols.astype(int)]


def _as_rgba(picture: np.ndarray) -> np.ndarray:
    if not isinstance(picture, np.ndarray) or picture.ndim not in (2, 3) or min(picture.shape[:2]) < 1:
        raise InputError(f"a drawing must be an (H, W, 3 or 4) image, got {getattr(picture, 'shape', type(picture).__name__)}")
    if picture.ndim == 2:
        picture = np.repeat(picture[:, :, None], 3, axis=2)
    if picture.shape[2] == 3:
        picture = np.concatenate([picture, np.full(picture.shape[:2] + (1,), 255, picture.dtype)], axis=2)
    if picture.shape[2] != 4:
        raise InputError(f"a drawing must have 3 or 4 colour channels, got {picture.shape[2]}")
    if picture.dtype != np.uint8:
        picture = np.clip(picture * (255 if picture.max() <= 1.0 else 1), 0, 255).astype(np.uint8)
    return picture


def layout_from_image(picture: np.ndarray, grid: GridSpec, *, background: str = "free") -> Layout:
    """A painted bird's-eye picture → static layout: each cell takes the nearest palette colour.

    Transparent (unpainted) pixels and pixels of the background colour become class 0.
    """
    rgba = _resize_nearest(_as_rgba(picture), grid.cells[:2])
    colors = PALETTE.colors.astype(np.int32)
    distance = ((rgba[:, :, None, :3].astype(np.int32) - colors[None, None]) ** 2).sum(-1)
    classes = distance.argmin(-1).astype(np.uint8)
    classes[rgba[:, :, 3] < TRANSPARENT_ALPHA] = PALETTE.class_id(background)
    return Layout(np.ascontiguousarray(grid_from_image(classes)))


def layout_image(layout: Layout) -> np.ndarray:
    """(H, W, 4) RGBA picture of a layout in palette colours; class 0 transparent."""
    picture = image_from_grid(layout.static)
    rgba = np.zeros(picture.shape + (4,), np.uint8)
    rgba[:, :, :3] = PALETTE.colors[picture]
    rgba[:, :, 3] = np.where(picture > 0, 255, 0)
    return rgba


def opaque_layout_image(layout: Layout, *, free_grey: int = FREE_GREY) -> np.ndarray:
    """(H, W, 4) opaque RGBA picture of a layout: palette colours, class 0 light grey."""
    picture = layout_image(layout)
    picture[picture[:, :, 3] == 0, :3] = free_grey
    picture[:, :, 3] = 255
    return picture


def mask_from_image(picture: np.ndarray, grid: GridSpec) -> np.ndarray:
    """A painted mask picture → (X, Y) bool: True where painted (opaque and not black)."""
    rgba = _resize_nearest(_as_rgba(picture), grid.cells[:2])
    painted = (rgba[:, :, 3] >= TRANSPARENT_ALPHA) & (rgba[:, :, :3].max(axis=2) > 32)
    mask = np.ascontiguousarray(grid_from_image(painted))
    if not mask.any():
        raise InputError("the inpainting mask is empty: paint the region to regenerate")
    return mask


def pixel_to_metres(row: float, col: float, image_size: tuple[int, int], grid: GridSpec) -> tuple[float, float]:
    """A click on the bird's-eye picture (row, column in pixels) → (x, y) metres in the grid frame."""
    x_max = grid.origin[0] + grid.extent[0]
    y_max = grid.origin[1] + grid.extent[1]
    return x_max - row / image_size[0] * grid.extent[0], y_max - col / image_size[1] * grid.extent[1]


def metres_to_pixel(x: float, y: float, image_size: tuple[int, int], grid: GridSpec) -> tuple[float, float]:
    """The inverse of `pixel_to_metres`: (x, y) metres in the grid frame → (row, column) on the picture."""
    x_max = grid.origin[0] + grid.extent[0]
    y_max = grid.origin[1] + grid.extent[1]
    return (x_max - x) / grid.extent[0] * image_size[0], (y_max - y) / grid.extent[1] * image_size[1]


def trajectory_from_waypoints(waypoints: np.ndarray, *, frames: int, speed: float, frame_interval: float) -> Trajectory:
    """Waypoints (K, 2) in metres → (T, 3) trajectory at constant `speed` along the path (arc length),
    heading from the path, relative to the first waypoint and its heading (frame 0's axes)."""
    points = np.asarray(waypoints, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 2:
        raise InputError(f"a trajectory needs at least 2 waypoints (x, y), got {points.shape}")
    if not np.isfinite(points).all():
        raise InputError("waypoints contain NaN or infinite values")
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    points = np.concatenate([points[:1], points[1:][steps > 1e-6]])
    if len(points) < 2:
        raise InputError("the waypoints are all at one place: click at least two different points")
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    distance = np.minimum(np.arange(frames) * frame_interval * max(speed, 0.0), arc[-1])
    xy = np.stack([np.interp(distance, arc, points[:, 0]), np.interp(distance, arc, points[:, 1])], axis=1)
    segment = np.clip(np.searchsorted(arc, distance, side="right") - 1, 0, len(points) - 2)
    direction = points[segment + 1] - points[segment]
    yaw = np.arctan2(direction[:, 1], direction[:, 0])
    return relative_to_first(np.column_stack([xy, yaw]))


def relative_to_first(poses: np.ndarray) -> Trajectory:
    """(T, 3) x, y, yaw in any frame → the same path relative to its first pose, in its axes."""
    x0, y0, yaw0 = poses[0]
    cos, sin = np.cos(yaw0), np.sin(yaw0)
    dx, dy = poses[:, 0] - x0, poses[:, 1] - y0
    yaw = np.unwrap(poses[:, 2] - yaw0)
    return Trajectory(np.column_stack([cos * dx + sin * dy, -sin * dx + cos * dy, yaw]))


def load_trajectory(path: str | Path, *, frames: int) -> Trajectory:
    """A trajectory JSON: {"poses": [[x, y, yaw], ...]} with `frames` rows, or {"waypoints": [[x, y],
    ...], "speed": m/s, "frame_interval": s} resampled by arc length."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable trajectory JSON ({error})") from None
    if not isinstance(data, dict) or not ({"poses", "waypoints"} & set(data)):
        raise InputError(f"{path}: expected an object with 'poses' or 'waypoints'")
    if "waypoints" in data:
        return trajectory_from_waypoints(np.asarray(data["waypoints"], dtype=np.float64), frames=frames,
                                         speed=float(data.get("speed", 5.0)), frame_interval=float(data.get("frame_interval", 0.2)))
    poses = np.asarray(data["poses"], dtype=np.float64)
    if poses.shape != (frames, 3):
        raise InputError(f"{path}: trajectory must have {frames} poses of (x, y, yaw), got shape {poses.shape}")
    return Trajectory(poses)
