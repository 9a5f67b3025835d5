"""Camera presets: where the virtual camera stands in each frame of a scene.

Axes are the grid's own (DESIGN §2): X forward, Y left, Z up. Three presets:

- "chase": behind and above the ego vehicle, following its position and heading frame by frame;
- "bev":   bird's-eye, straight down over the whole grid, +X up and +Y left in the image;
- "orbit": one turn around the grid centre over the clip, starting from behind.

The ego pose of each frame comes from the scene: with no poses, or in the "ego" convention, the ego sits
at the origin heading +X in every frame; in the "anchored" convention frame t's pose relative to frame 0
is inv(poses[0]) @ poses[t]. Distances scale with the grid's extent, so the cpu and carlasc presets
(same 51.2 m extent) frame alike and tiny test grids still fit in view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.types import CAMERA_PRESETS, InputError, OccupancySequence

VIEW_ANGLE = 40.0  # vertical field of view, degrees


@dataclass(frozen=True)
class CameraView:
    """A look-at camera: metric position, focal point and up vector in the grid frame, vertical FOV."""

    position: tuple[float, float, float]
    focal_point: tuple[float, float, float]
    up: tuple[float, float, float]
    view_angle: float = VIEW_ANGLE

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(right, down, forward) unit vectors of the image in world coordinates (OpenCV convention)."""
        forward = np.subtract(self.focal_point, self.position).astype(np.float64)
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, self.up)
        right /= np.linalg.norm(right)
        return right, np.cross(forward, right), forward

    def world_to_camera(self) -> np.ndarray:
        """(4, 4) extrinsic matrix mapping world points to camera coordinates (x right, y down, z ahead)."""
        right, down, forward = self.axes()
        rotation = np.stack([right, down, forward])
        extrinsic = np.eye(4)
        extrinsic[:3, :3] = rotation
        extrinsic[:3, 3] = -rotation @ np.asarray(self.position, dtype=np.float64)
        return extrinsic


def ego_poses(scene: OccupancySequence) -> np.ndarray:
    """(T, 3) ego x [m], y [m], yaw [rad] of each frame in the grid's frame."""
    if scene.poses is None or scene.convention == "ego":
        return np.zeros((scene.num_frames, 3))
    relative = np.linalg.inv(scene.poses[0])[None] @ scene.poses  # (T, 4, 4) frame-0-from-ego
    yaw = np.arctan2(relative[:, 1, 0], relative[:, 0, 0])
    return np.column_stack([relative[:, 0, 3], relative[:, 1, 3], yaw])


def grid_to_display(scene: OccupancySequence) -> np.ndarray:
    """(T, 4, 4) transform of each frame's grid into the frame the cameras use (frame 0's grid).

    Identity for one clip. A long scene made clip by clip (`metadata["clip_frames"]`) has each clip
    anchored at its own first frame; this moves every clip into the first clip's frame, so all clips
    share one world and the video does not jump at clip boundaries.
    """
    identity = np.tile(np.eye(4), (scene.num_frames, 1, 1))
    clip = int(scene.metadata.get("clip_frames", 0) or 0)
    if scene.poses is None or scene.convention != "anchored" or not 0 < clip < scene.num_frames:
        return identity
    anchors = scene.poses[(np.arange(scene.num_frames) // clip) * clip]  # world-from-anchor per frame
    return np.linalg.inv(scene.poses[0])[None] @ anchors


def _grid_box(scene: OccupancySequence) -> tuple[np.ndarray, np.ndarray]:
    """Metric centre (3,) and extent (3,) of the grid."""
    extent = np.asarray(scene.grid.extent, dtype=np.float64)
    return np.asarray(scene.grid.origin, dtype=np.float64) + extent / 2, extent


def _ground_height(scene: OccupancySequence) -> float:
    """Height the cameras aim at: the top of the lowest voxel layer, where roads usually lie."""
    return scene.grid.origin[2] + scene.grid.voxel_size[2]


def _as_view(position: np.ndarray, focal: np.ndarray, up: tuple[float, float, float]) -> CameraView:
    return CameraView(tuple(map(float, position)), tuple(map(float, focal)), up)


def chase_views(scene: OccupancySequence) -> list[CameraView]:
    """Behind and above the ego, looking along its heading at the road ahead."""
    _, extent = _grid_box(scene)
    span = float(max(extent[:2]))
    back, height, ahead = 0.36 * span, 0.3 * span, 0.25 * span  # enough street around the ego to read the scene
    ground = _ground_height(scene)
    views = []
    for x, y, yaw in ego_poses(scene):
        heading = np.array([np.cos(yaw), np.sin(yaw), 0.0])
        ego = np.array([x, y, ground])
        position = ego - back * heading + np.array([0.0, 0.0, height])
        views.append(_as_view(position, ego + ahead * heading, (0.0, 0.0, 1.0)))
    return views


def bev_views(scene: OccupancySequence, aspect: float) -> list[CameraView]:
    """Straight down over the grid centre, far enough that the whole grid fits the image."""
    centre, extent = _grid_box(scene)
    half_fov = np.radians(VIEW_ANGLE) / 2
    # The image's vertical axis shows X, its horizontal axis Y; fit whichever is tighter.
    half_size = max(extent[0] / 2, extent[1] / 2 / aspect) * 1.04
    height = extent[2] / 2 + half_size / np.tan(half_fov)
    focal = np.array([centre[0], centre[1], _ground_height(scene)])
    position = focal + np.array([0.0, 0.0, height])
    view = _as_view(position, focal, (1.0, 0.0, 0.0))
    return [view] * scene.num_frames


def orbit_views(scene: OccupancySequence) -> list[CameraView]:
    """One full turn around the grid centre over the clip, starting behind it (looking +X)."""
    centre, extent = _grid_box(scene)
    span = float(max(extent[:2]))
    radius, height = 0.95 * span, 0.6 * span
    focal = np.array([centre[0], centre[1], _ground_height(scene)])
    views = []
    for t in range(scene.num_frames):
        angle = np.pi + 2 * np.pi * t / scene.num_frames
        offset = np.array([radius * np.cos(angle), radius * np.sin(angle), height])
        views.append(_as_view(focal + offset, focal, (0.0, 0.0, 1.0)))
    return views


def camera_views(scene: OccupancySequence, preset: str, aspect: float = 4 / 3) -> list[CameraView]:
    """One CameraView per frame of `scene` for the named preset; `aspect` is image width / height."""
    if preset == "chase":
        return chase_views(scene)
    if preset == "bev":
        return bev_views(scene, aspect)
    if preset == "orbit":
        return orbit_views(scene)
    raise InputError(f"unknown camera {preset!r}; expected one of: {', '.join(CAMERA_PRESETS)}")
