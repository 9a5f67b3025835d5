"""The moving half of the procedural 4D city: lane paths, speed profiles and agents.

Every mover (the ego car, other vehicles, pedestrians) follows a `Path`, a dense polyline with
headings built from straight and quarter-circle pieces, at a distance that grows with a speed profile:
constant speed, or braking to a stop at a given arc length (a red light, the end of a queue).
Turns are arcs tangent to the lane lines of the two roads, so vehicles stay in their lanes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.city import Road

PATH_STEP = 0.1  # metres between polyline samples


@dataclass(frozen=True)
class Path:
    """A drivable curve: xy (N, 2), yaw (N,), arc length s (N,) from its start."""

    xy: np.ndarray
    yaw: np.ndarray
    s: np.ndarray

    def at(self, distance: np.ndarray) -> np.ndarray:
        """(K, 3) x, y, yaw at arc lengths `distance`; beyond the ends it goes straight on."""
        distance = np.asarray(distance, dtype=np.float64)
        clipped = np.clip(distance, 0.0, self.s[-1])
        x = np.interp(clipped, self.s, self.xy[:, 0])
        y = np.interp(clipped, self.s, self.xy[:, 1])
        yaw = np.interp(clipped, self.s, np.unwrap(self.yaw))
        overshoot = distance - clipped  # negative before the start, positive past the end
        return np.stack([x + overshoot * np.cos(yaw), y + overshoot * np.sin(yaw), yaw], axis=-1)


def integrate_path(start: tuple[float, float], yaw: float, pieces: list[tuple[float, float]]) -> Path:
    """Build a path from (length, curvature) pieces: curvature 0 is straight, ±1/r a left/right arc."""
    lengths = [np.full(max(int(round(length / PATH_STEP)), 0), curvature) for length, curvature in pieces]
    curvature = np.concatenate(lengths) if lengths else np.zeros(0)
    yaws = yaw + np.concatenate([[0.0], np.cumsum(curvature * PATH_STEP)])
    mid = (yaws[:-1] + yaws[1:]) / 2  # midpoint rule keeps arcs on their circle
    steps = PATH_STEP * np.stack([np.cos(mid), np.sin(mid)], axis=1)
    xy = np.asarray(start, dtype=np.float64) + np.concatenate([np.zeros((1, 2)), np.cumsum(steps, axis=0)])
    return Path(xy, yaws, np.arange(len(yaws)) * PATH_STEP)


def heading(axis: int, direction: int) -> float:
    return (0.0 if direction > 0 else np.pi) if axis == 0 else (np.pi / 2 if direction > 0 else -np.pi / 2)


def lane_point(road: Road, direction: int, lane: int, along: float) -> tuple[float, float]:
    across = road.lane_centre(direction, lane)
    return (along, across) if road.axis == 0 else (across, along)


def straight_path(road: Road, direction: int, lane: int, along: float, length: float = 200.0) -> Path:
    """A lane of `road`, starting at coordinate `along` on the road's own axis."""
    return integrate_path(lane_point(road, direction, lane, along), heading(road.axis, direction), [(length, 0.0)])


def turn_path(
    road: Road, direction: int, lane: int, along: float, cross: Road, turn: int, radius: float,
    *, target_lane: int = 0, after: float = 120.0,
) -> Path | None:
    """Drive `road`'s lane from `along`, then turn left (turn=+1) or right (-1) into `cross`'s lane.

    Returns None when the turn would have to start behind the starting point.
    """
    yaw_in = heading(road.axis, direction)
    yaw_out = yaw_in + turn * np.pi / 2
    out_direction = int(np.sign(np.round(np.sin(yaw_out) if cross.axis == 1 else np.cos(yaw_out))))
    lane_in = road.lane_centre(direction, lane)
    lane_out = cross.lane_centre(out_direction, target_lane)
    corner_along = lane_out  # where the two lane lines cross, on the first road's axis
    straight = direction * (corner_along - along) - radius
    if straight < 0:
        return None
    start = (along, lane_in) if road.axis == 0 else (lane_in, along)
    return integrate_path(start, yaw_in, [(straight, 0.0), (np.pi / 2 * radius, turn / radius), (after, 0.0)])


@dataclass(frozen=True)
class SpeedProfile:
    """Distance travelled by time t: constant `speed`, or braking evenly to a stop after `stop_after` m."""

    speed: float
    stop_after: float | None = None

    def distance(self, times: np.ndarray) -> np.ndarray:
        times = np.asarray(times, dtype=np.float64)
        if self.stop_after is None:
            return self.speed * times
        if self.stop_after <= 0 or self.speed <= 0:
            return np.zeros_like(times)
        decel = self.speed**2 / (2 * self.stop_after)
        stop_time = self.speed / decel
        t = np.minimum(times, stop_time)
        return self.speed * t - 0.5 * decel * t**2


@dataclass(frozen=True)
class Agent:
    """A mover: class id, box size (length, width in metres; layers 1..top-1), path and speed."""

    class_id: int
    length: float
    width: float
    top_layer: int
    path: Path
    start: float
    profile: SpeedProfile

    def poses(self, times: np.ndarray) -> np.ndarray:
        """(T, 3) x, y, yaw in the world (frame 0's ego frame)."""
        return self.path.at(self.start + self.profile.distance(times))


def box_footprint(
    centres_x: np.ndarray, centres_y: np.ndarray, pose: np.ndarray, length: float, width: float,
) -> tuple[slice, slice, np.ndarray] | None:
    """The cells whose centres lie in an oriented rectangle (centre x, y, yaw; length along yaw): the x
    and y slices of the window around it and the (x, y) bool footprint inside that window; None when
    the window misses the grid."""
    x, y, yaw = pose
    reach = 0.5 * np.hypot(length, width)
    ix = np.nonzero(np.abs(centres_x - x) <= reach)[0]
    iy = np.nonzero(np.abs(centres_y - y) <= reach)[0]
    if not (len(ix) and len(iy)):
        return None
    cos, sin = np.cos(yaw), np.sin(yaw)
    dx = centres_x[ix][:, None] - x
    dy = centres_y[iy][None, :] - y
    inside = (np.abs(dx * cos + dy * sin) <= length / 2) & (np.abs(-dx * sin + dy * cos) <= width / 2)
    return slice(ix[0], ix[-1] + 1), slice(iy[0], iy[-1] + 1), inside


def rasterise_box(
    labels: np.ndarray, centres_x: np.ndarray, centres_y: np.ndarray, pose: np.ndarray,
    length: float, width: float, layers: tuple[int, int], class_id: int,
) -> None:
    """Write an oriented box (centre x, y, yaw) into labels (X, Y, Z); its centre cell is always set."""
    window = box_footprint(centres_x, centres_y, pose, length, width)
    if window is not None:
        along_x, along_y, inside = window
        labels[along_x, along_y, layers[0]: layers[1]][inside] = class_id
    x, y, _ = pose
    step_x, step_y = centres_x[1] - centres_x[0], centres_y[1] - centres_y[0]
    cx = int(np.floor((x - centres_x[0]) / step_x + 0.5))
    cy = int(np.floor((y - centres_y[0]) / step_y + 0.5))
    if 0 <= cx < len(centres_x) and 0 <= cy < len(centres_y):
        labels[cx, cy, layers[0]: layers[1]] = class_id


def walk_path(axis: int, across: float, direction: int, along: float, length: float = 200.0) -> Path:
    """A straight walk along a line at cross-axis coordinate `across` (sidewalks have no lanes)."""
    start = (along, across) if axis == 0 else (across, along)
    return integrate_path(start, heading(axis, direction), [(length, 0.0)])


def boxes_overlap(
    poses_a: np.ndarray, size_a: tuple[float, float], poses_b: np.ndarray, size_b: tuple[float, float],
    margin: float = 0.0,
) -> np.ndarray:
    """(T,) whether two oriented rectangles (x, y, yaw per frame; length, width) come within `margin`.

    Separating-axis test: the boxes are apart when, on one of the four edge normals, their projections
    do not meet.
    """
    half_a = (np.asarray(size_a) + margin) / 2
    half_b = (np.asarray(size_b) + margin) / 2
    offset = poses_b[:, :2] - poses_a[:, :2]
    apart = np.zeros(len(poses_a), bool)
    axes_a = _box_axes(poses_a[:, 2])
    axes_b = _box_axes(poses_b[:, 2])
    for axis in (*axes_a, *axes_b):  # each (T, 2)
        reach_a = sum(h * np.abs((axis * a).sum(1)) for h, a in zip(half_a, axes_a))
        reach_b = sum(h * np.abs((axis * b).sum(1)) for h, b in zip(half_b, axes_b))
        apart |= np.abs((offset * axis).sum(1)) > reach_a + reach_b
    return ~apart


def _box_axes(yaw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    along = np.stack([np.cos(yaw), np.sin(yaw)], axis=1)
    return along, np.stack([-along[:, 1], along[:, 0]], axis=1)
