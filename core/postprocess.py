"""Vehicle specks: the one clean-up a decoded scene may get, on request (`SamplerSettings.remove_specks`).

Seen from above, every vehicle blob of a real procedural scene is at least car-sized, unless the grid's
edge cuts it. The generated scenes have as many car-sized blobs as real ones (a third of them ragged),
and besides them about as many *specks*: blobs of 1 to 5 cells away from the edge, 8 % of the vehicle
voxels (checkpoints README, step 24). Removing specks relabels their voxels with the decoder's best class
other than vehicle. It is off by default, so the API, the CLIs and the evaluation give the models' own
output; a recipe records it, so a scene made with it is made again exactly.
"""

from __future__ import annotations

import numpy as np

from core.data.palette import PALETTE
from core.eval.geometry import components
from core.types import GridSpec

VEHICLE = PALETTE.class_id("vehicle")
MIN_CAR_CELLS = 6  # a car at 0.8 m is about 6 × 3 cells seen from above; smaller blobs are debris
MIN_CAR_AREA_M2 = MIN_CAR_CELLS * 0.8 * 0.8


def min_car_cells(grid: GridSpec) -> int:
    """The smallest car seen from above, in cells of `grid` (6 at 0.8 m)."""
    return max(1, round(MIN_CAR_AREA_M2 / (grid.voxel_size[0] * grid.voxel_size[1])))


def vehicle_blobs(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One (X, Y, Z) frame's vehicle blobs seen from above (4-connected): the (X, Y) blob index of each
    cell (0: no vehicle), and per index its size in cells and whether the grid's edge cuts it (index 0:
    size 0, not cut)."""
    blob, count = components((frame == VEHICLE).any(axis=2))
    sizes = np.bincount(blob.ravel(), minlength=count + 1)
    sizes[0] = 0
    cut = np.zeros(count + 1, bool)
    cut[np.concatenate([blob[0], blob[-1], blob[:, 0], blob[:, -1]])] = True
    cut[0] = False
    return blob, sizes, cut


def vehicle_specks(labels: np.ndarray, min_cells: int) -> np.ndarray:
    """(T, X, Y, Z) bool: the vehicle voxels of each frame's vehicle blobs smaller than `min_cells` that
    the grid's edge does not cut."""
    specks = np.zeros(labels.shape, bool)
    for t, frame in enumerate(labels):
        blob, sizes, cut = vehicle_blobs(frame)
        small = (sizes > 0) & (sizes < min_cells) & ~cut
        specks[t] = small[blob][..., None] & (frame == VEHICLE)
    return specks


def remove_vehicle_specks(labels: np.ndarray, fallback: np.ndarray, min_cells: int,
                          editable: np.ndarray | None = None) -> np.ndarray:
    """`labels` with its vehicle specks (`vehicle_specks`) relabelled from `fallback` (the decoder's best
    class other than vehicle, same shape); with `editable` (bool, same shape), only voxels there change."""
    specks = vehicle_specks(labels, min_cells)
    if editable is not None:
        specks &= editable
    return np.where(specks, fallback, labels).astype(labels.dtype)
