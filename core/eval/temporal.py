"""Temporal consistency of a 4D scene: static classes that flicker, vehicles that jitter or vanish.

- Flicker rate: of the voxels holding a static class in frame t or t+1 (and no vehicle, pedestrian or
  bicycle in either), the share whose class changed. The world does not move in the anchored
  convention; ego-convention scenes are first brought into frame 0's pose with their poses
  (ego-motion compensation), comparing only voxels observed in both frames.
- Vehicle tracks: vehicle blobs seen from above, matched frame to frame to the nearest blob within
  reach; smoothness is the mean acceleration along tracks of 3+ frames (m/s²), and breaks are tracks
  that end or start while well inside the grid (a car that pops in or out of existence).
- Vehicle debris: of the vehicle blobs seen from above in all frames, the share smaller than a car:
  fragments where a whole car should be (a real scene has a few, cars cut by the grid's edge).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.resample import ego_to_anchored
from core.eval.adherence import DYNAMIC, MIN_CAR_CELLS, VEHICLE
from core.eval.geometry import blobs
from core.types import OccupancySequence

BORDER_CELLS = 4  # a track ending this close to the grid's edge may simply have driven out


def anchored_labels(scene: OccupancySequence) -> tuple[np.ndarray, np.ndarray | None]:
    """(T, X, Y, Z) labels in frame 0's pose, and the unobserved mask (None when all is observed)."""
    if scene.convention == "anchored" or scene.poses is None:
        return scene.labels, scene.unobserved
    return ego_to_anchored(scene.labels, scene.unobserved, scene.grid, scene.poses)


def flicker_rate(scene: OccupancySequence) -> float:
    """Share of static-class voxels that change class between consecutive frames."""
    labels, hidden = anchored_labels(scene)
    changed = total = 0
    for t in range(len(labels) - 1):
        a, b = labels[t], labels[t + 1]
        static = ((a > 0) | (b > 0)) & ~np.isin(a, DYNAMIC) & ~np.isin(b, DYNAMIC)
        if hidden is not None:
            static &= ~hidden[t] & ~hidden[t + 1]
        changed += int((a[static] != b[static]).sum())
        total += int(static.sum())
    return changed / total if total else 0.0


def vehicle_debris(scene: OccupancySequence) -> float:
    """Share of the vehicle blobs (seen from above, over all frames) smaller than a car; 0 without vehicles."""
    sizes = np.array([blob.cells for frame in scene.labels for blob in blobs((frame == VEHICLE).any(axis=2))])
    return float((sizes < MIN_CAR_CELLS).mean()) if len(sizes) else 0.0


@dataclass(frozen=True)
class VehicleTracks:
    tracks: list[np.ndarray]  # each (n, 2) metres, one position per frame of the track
    mean_acceleration: float  # m/s², over tracks of 3+ frames
    break_rate: float  # breaks inside the grid per track


def vehicle_tracks(scene: OccupancySequence, *, frame_interval: float = 0.2, reach_m: float = 3.0) -> VehicleTracks:
    """Greedy nearest-neighbour tracks of the vehicle blobs of an anchored scene."""
    labels, _ = anchored_labels(scene)
    size = np.array(scene.grid.voxel_size[:2])
    reach = reach_m / size[0]
    shape = np.array(labels.shape[1:3])
    finished, live = [], []  # each track: list of cell centres
    for t, frame in enumerate(labels):
        centers = [blob.center for blob in blobs((frame == VEHICLE).any(axis=2), min_cells=MIN_CAR_CELLS)]
        still = []
        for track in live:
            gaps = [np.linalg.norm(c - track[-1]) for c in centers]
            if gaps and min(gaps) <= reach:
                track.append(centers.pop(int(np.argmin(gaps))))
                still.append(track)
            else:
                finished.append((track, t))  # ended before frame t
        live = still + [[c] for c in centers]
        if t == 0:
            starts = {id(track) for track in live}
    finished += [(track, len(labels)) for track in live]

    def inside(cell: np.ndarray) -> bool:
        return bool(((cell >= BORDER_CELLS) & (cell < shape - BORDER_CELLS)).all())

    breaks = 0
    for track, end in finished:
        if end < len(labels) and inside(track[-1]):
            breaks += 1
        if id(track) not in starts and inside(track[0]):
            breaks += 1
    metres = [np.array(track) * size for track, _ in finished]
    accelerations = [np.linalg.norm(np.diff(m, 2, axis=0), axis=1) / frame_interval**2 for m in metres if len(m) >= 3]
    mean_acceleration = float(np.mean(np.concatenate(accelerations))) if accelerations else 0.0
    return VehicleTracks(metres, mean_acceleration, breaks / max(len(finished), 1))
