"""Does a generated scene do what was asked? Layout, trajectory, command and inpainting adherence.

- Layout: bird's-eye IoU per class between the requested static layout and the generated frame 0's
  static classes seen from above (vehicles and pedestrians removed first: the layout has none).
- Trajectory (anchored scenes): the ego car is found as the vehicle blob at the requested start and
  tracked frame by frame; its positions and headings are compared with the requested path, and the
  command derived from the recovered motion with the requested one. The path should stay on road and
  the ego blob should not merge with another vehicle (a collision).
- Ego motion (ego-convention scenes): recovered by registering the static classes of consecutive frames.
- Inpainting: every voxel outside the mask must be unchanged; roads and sidewalks should continue
  across the mask border (seam continuity, compared with the source's own).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.conditions.command import command_from_trajectory
from core.data.palette import PALETTE
from core.data.procedural import static_bev_layout
from core.eval.geometry import Blob, blobs
from core.postprocess import MIN_CAR_CELLS, VEHICLE
from core.types import Command, GridSpec, OccupancySequence, Trajectory

DYNAMIC = tuple(PALETTE.class_id(name) for name in ("vehicle", "pedestrian", "bicycle"))
ROAD = PALETTE.class_id("road")
SEAM_CLASSES = tuple(PALETTE.class_id(name) for name in ("road", "sidewalk"))




def layout_iou(requested: np.ndarray, scene: OccupancySequence) -> dict[str, float]:
    """IoU per class present in the requested (X, Y) layout, against frame 0; 'mean' over those classes."""
    generated = static_bev_layout(scene.labels[0])
    drawn = requested > 0  # undrawn cells say nothing: they are left to the model
    result = {}
    for class_id in np.unique(requested[drawn]):
        want, got = requested == class_id, (generated == class_id) & drawn
        result[PALETTE.names[class_id]] = float((want & got).sum() / max((want | got).sum(), 1))
    result["mean"] = float(np.mean(list(result.values()))) if result else 0.0
    return result


def _cell_of(grid: GridSpec, xy: np.ndarray) -> np.ndarray:
    return (np.asarray(xy) - np.array(grid.origin[:2])) / np.array(grid.voxel_size[:2]) - 0.5


def _metres(grid: GridSpec, cell: np.ndarray) -> np.ndarray:
    return np.array(grid.origin[:2]) + (np.asarray(cell) + 0.5) * np.array(grid.voxel_size[:2])


@dataclass(frozen=True)
class Track:
    """The ego car as found in a scene: (T, 3) x, y, yaw in frame 0's axes, and per-frame facts."""

    poses: np.ndarray
    found: np.ndarray  # (T,) bool: a blob was matched (else the pose is carried forward)
    on_road: np.ndarray  # (T,) bool: the cell under the blob centre is road in the static view
    collided: np.ndarray  # (T,) bool: the blob grew past 1.6× its first size (merged with another)


def _closest(candidates: list[Blob], target: np.ndarray, reach: float) -> Blob | None:
    if not candidates:
        return None
    gaps = [np.linalg.norm(blob.center - target) for blob in candidates]
    best = int(np.argmin(gaps))
    return candidates[best] if gaps[best] <= reach else None


def _heading(axis_angle: float, previous: float) -> float:
    """The blob's axis as a heading: of the two directions along it, the one nearer the previous heading."""
    options = np.array([axis_angle, axis_angle + np.pi])
    return float(options[np.argmin(np.abs(np.angle(np.exp(1j * (options - previous)))))])


def track_ego(scene: OccupancySequence, *, start: np.ndarray | None = None, reach_m: float = 3.0) -> Track:
    """Follow the ego vehicle blob of an anchored scene from `start` (x, y metres; default the origin)."""
    grid = scene.grid
    reach = reach_m / grid.voxel_size[0]
    position, velocity, heading = _cell_of(grid, np.zeros(2) if start is None else start), np.zeros(2), 0.0
    poses, found, on_road, collided, first_size = [], [], [], [], None
    for frame in scene.labels:
        cars = blobs((frame == VEHICLE).any(axis=2), min_cells=MIN_CAR_CELLS)
        blob = _closest(cars, position + velocity, reach)
        if blob is not None:
            velocity = blob.center - position if poses else np.zeros(2)
            position, heading = blob.center, _heading(blob.axis_angle, heading)
            first_size = first_size or blob.cells
        else:
            position = position + velocity
        static = static_bev_layout(frame)
        cell = np.clip(np.round(position).astype(int), 0, np.array(static.shape) - 1)
        poses.append([*_metres(grid, position), heading])
        found.append(blob is not None)
        on_road.append(static[tuple(cell)] == ROAD)
        collided.append(blob is not None and first_size is not None and blob.cells > 1.6 * first_size)
    return Track(np.array(poses), np.array(found), np.array(on_road), np.array(collided))


@dataclass(frozen=True)
class TrajectoryAdherence:
    position_error: np.ndarray  # (T,) metres
    heading_error: np.ndarray  # (T,) radians
    final_error: float
    recovered_command: Command
    command_match: bool
    found_share: float
    on_road_share: float
    collision: bool


def trajectory_adherence(scene: OccupancySequence, requested: Trajectory, command: Command | None = None) -> TrajectoryAdherence:
    """Compare the tracked ego with the requested path (and command: default, the path's own)."""
    track = track_ego(scene)
    gap = track.poses[:, :2] - requested.poses[:, :2]
    position_error = np.linalg.norm(gap, axis=1)
    heading_error = np.abs(np.angle(np.exp(1j * (track.poses[:, 2] - requested.poses[:, 2]))))
    recovered = command_from_trajectory(Trajectory(track.poses))
    wanted = command if command is not None else command_from_trajectory(requested)
    return TrajectoryAdherence(position_error, heading_error, float(position_error[-1]), recovered, recovered == wanted,
                               float(track.found.mean()), float(track.on_road.mean()), bool(track.collided.any()))


def register(before: np.ndarray, after: np.ndarray, *, max_shift: int = 4, yaws: np.ndarray | None = None) -> tuple[int, int, float]:
    """The (dx, dy cells, yaw) moving `before`'s static map onto `after`'s: best agreement of static classes.

    Both are (X, Y) class maps; the yaw is searched over `yaws` (radians, default ±0.2 in 0.025 steps)
    by nearest resampling about the grid centre, the shift over ±max_shift cells.
    """
    yaws = np.linspace(-0.2, 0.2, 17) if yaws is None else yaws
    size = np.array(before.shape)
    xs, ys = np.meshgrid(np.arange(size[0]) - (size[0] - 1) / 2, np.arange(size[1]) - (size[1] - 1) / 2, indexing="ij")
    best, best_score = (0, 0, 0.0), -1.0
    for yaw in yaws:
        cos, sin = np.cos(yaw), np.sin(yaw)
        # an `after` cell at p saw the world point R(yaw)·p + shift of `before`
        sx = np.round(cos * xs - sin * ys + (size[0] - 1) / 2).astype(int)
        sy = np.round(sin * xs + cos * ys + (size[1] - 1) / 2).astype(int)
        for dx in range(-max_shift, max_shift + 1):
            for dy in range(-max_shift, max_shift + 1):
                bx, by = sx + dx, sy + dy
                inside = (bx >= 0) & (bx < size[0]) & (by >= 0) & (by < size[1])
                seen = before[bx[inside], by[inside]]
                now = after[inside]
                both = (seen > 0) | (now > 0)
                score = float((seen[both] == now[both]).mean()) if both.any() else 0.0
                if score > best_score:
                    best, best_score = (dx, dy, float(yaw)), score
    return best


def ego_motion(scene: OccupancySequence, **search) -> np.ndarray:
    """(T, 3) ego poses of an ego-convention scene, recovered by chaining frame-to-frame registrations."""
    grid = scene.grid
    maps = [static_bev_layout(frame) for frame in scene.labels]
    poses = [np.zeros(3)]
    for before, after in zip(maps, maps[1:]):
        dx, dy, yaw = register(before, after, **search)
        x, y, heading = poses[-1]
        step = np.array([dx, dy]) * np.array(grid.voxel_size[:2])
        cos, sin = np.cos(heading), np.sin(heading)
        poses.append(np.array([x + cos * step[0] - sin * step[1], y + sin * step[0] + cos * step[1], heading + yaw]))
    return np.array(poses)


def outside_unchanged(source: OccupancySequence, result: OccupancySequence, mask: np.ndarray, frames: range | None = None) -> float:
    """Share of voxels outside the (X, Y) mask (or outside the frame range) that kept their class."""
    region = np.zeros(source.labels.shape[:3], bool)
    region[slice(None) if frames is None else slice(frames.start, frames.stop)] = mask
    outside = ~region
    kept = source.labels[outside] == result.labels[outside]
    return float(kept.mean()) if kept.size else 1.0


def seam_continuity(scene: OccupancySequence, mask: np.ndarray) -> float:
    """Of the border cell pairs (outside cell road / sidewalk, inside neighbour), the share that continue it."""
    static = static_bev_layout(scene.labels[0])
    continued = total = 0
    for axis in (0, 1):
        for step in (1, -1):
            inside_neighbour = np.roll(mask, step, axis=axis)
            edge = ~mask & inside_neighbour & np.isin(static, SEAM_CLASSES)
            wrapped = [slice(None), slice(None)]
            wrapped[axis] = 0 if step == 1 else -1  # np.roll wraps round: that row / column has no neighbour
            edge[tuple(wrapped)] = False
            neighbour = np.roll(static, step, axis=axis)
            continued += int((neighbour[edge] == static[edge]).sum())
            total += int(edge.sum())
    return continued / total if total else 1.0
