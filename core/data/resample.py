"""Grid geometry for dataset readers: resampling between voxel grids and ego → anchored conversion.

`resample_to_grid` moves a 4D label volume from one axis-aligned grid (`GridSpec`) to another by
mapping each source voxel centre to the target cell that contains it. A target cell takes the majority
class among its *non-free* source voxels, and is free only when all of them are free: thin structures
(poles, pedestrians) survive downsampling instead of being outvoted by the air around them. A target cell
is unobserved when all its source voxels are. Where the target is finer than the source along an axis
(Occ3D's 0.4 m layers into 0.375 m layers), a cell that no source centre falls into takes the source
voxel under its own centre, so fine grids get no empty stripes; cells outside the source grid are free
and unobserved.

`ego_to_anchored` converts ego-convention frames (the grid moves with the ego, DESIGN §2) to the anchored
convention (every frame in frame 0's ego pose) with the world-from-ego poses, by nearest-voxel lookup.

Also shared by the readers: pose files (CarlaSC `poses.txt`, Occ3D scene poses) → 4×4 matrices, and
the validation of clip options (preset, convention, frame range).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.types import CONVENTIONS, GridSpec, InputError


def _check_volume(labels: np.ndarray, unobserved: np.ndarray | None, cells: tuple[int, int, int]) -> None:
    if not isinstance(labels, np.ndarray) or labels.ndim != 4 or labels.shape[1:] != tuple(cells):
        got = getattr(labels, "shape", type(labels).__name__)
        raise InputError(f"labels must have shape (T, {', '.join(map(str, cells))}), got {got}")
    if labels.dtype != np.uint8:
        raise InputError(f"labels must have dtype uint8, got {labels.dtype}")
    if labels.shape[0] == 0:
        raise InputError("scene has 0 frames; expected at least 1")
    if unobserved is not None and (unobserved.shape != labels.shape or unobserved.dtype != np.bool_):
        got = f"{unobserved.dtype} {unobserved.shape}"
        raise InputError(f"unobserved must be bool with shape {labels.shape}, got {got}")


def _axis_pairs(source: GridSpec, target: GridSpec, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (source index, target index) along one axis: which source voxels feed which target cells."""
    source_centers = source.voxel_centers(axis)
    source_cells = np.floor((source_centers - target.origin[axis]) / target.voxel_size[axis]).astype(np.int64)
    inside = (source_cells >= 0) & (source_cells < target.cells[axis])
    source_index = np.flatnonzero(inside)
    target_index = source_cells[inside]
    # Target cells finer than the source may catch no centre: give them the source voxel under their centre.
    empty = np.setdiff1d(np.arange(target.cells[axis]), target_index)
    under = np.floor((target.voxel_centers(axis)[empty] - source.origin[axis]) / source.voxel_size[axis])
    under = under.astype(np.int64)
    covered = (under >= 0) & (under < source.cells[axis])
    return np.concatenate([source_index, under[covered]]), np.concatenate([target_index, empty[covered]])


def _flat_product(indices: list[np.ndarray], cells: tuple[int, ...]) -> np.ndarray:
    """Flat C-order indices of the cartesian product of per-axis indices."""
    x, y, z = np.ix_(*indices)
    return ((x * cells[1] + y) * cells[2] + z).ravel()


def _majority_non_free(values: np.ndarray, cells: np.ndarray, num_cells: int, num_classes: int) -> np.ndarray:
    """Per target cell, the most frequent non-free class among `values` voting into `cells`, else 0."""
    votes = np.bincount(cells * num_classes + values, minlength=num_cells * num_classes)
    votes = votes.reshape(num_cells, num_classes)
    # Free wins only when no non-free voxel voted: argmax over a zeroed free column yields 0 exactly then.
    votes[:, 0] = 0
    return votes.argmax(axis=1).astype(np.uint8)


def resample_to_grid(
    labels: np.ndarray, unobserved: np.ndarray | None, source: GridSpec, target: GridSpec,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Resample (T, X, Y, Z) uint8 `labels` (and optional bool `unobserved`) from `source` to `target` cells.

    Returns labels of shape (T, *target.cells) and the unobserved mask; the mask is None only when
    `unobserved` is None and every target cell received source voxels.
    """
    _check_volume(labels, unobserved, source.cells)
    num_frames = labels.shape[0]
    num_classes = int(labels.max()) + 1
    pairs = [_axis_pairs(source, target, axis) for axis in range(3)]
    source_flat = _flat_product([p[0] for p in pairs], source.cells)  # (P,)
    target_flat = _flat_product([p[1] for p in pairs], target.cells)  # (P,)
    num_cells = int(np.prod(target.cells))
    feeders = np.bincount(target_flat, minlength=num_cells)  # (cells,) source voxels per target cell
    resampled = np.empty((num_frames, num_cells), dtype=np.uint8)
    hidden = np.empty((num_frames, num_cells), dtype=bool)
    # One frame at a time keeps the vote table at cells × classes instead of T times that.
    for t in range(num_frames):
        values = labels[t].reshape(-1)[source_flat].astype(np.int64)  # (P,)
        resampled[t] = _majority_non_free(values, target_flat, num_cells, num_classes)
        if unobserved is None:
            hidden[t] = feeders == 0
        else:
            hidden_votes = unobserved[t].reshape(-1)[source_flat]
            hidden[t] = np.bincount(target_flat[hidden_votes], minlength=num_cells) == feeders
    resampled = resampled.reshape(num_frames, *target.cells)
    mask = hidden.reshape(num_frames, *target.cells)
    if unobserved is None and not mask.any():
        return resampled, None
    return resampled, mask


def _check_poses(poses: np.ndarray, num_frames: int) -> None:
    if not isinstance(poses, np.ndarray) or poses.shape != (num_frames, 4, 4):
        got = getattr(poses, "shape", type(poses).__name__)
        raise InputError(f"poses must have shape ({num_frames}, 4, 4), got {got}")
    if not np.isfinite(poses).all():
        raise InputError("poses contain NaN or infinite values")


def _voxel_centers(grid: GridSpec) -> np.ndarray:
    """(X·Y·Z, 4) homogeneous metric centres of the grid's voxels, C order."""
    axes = np.meshgrid(*(grid.voxel_centers(axis) for axis in range(3)), indexing="ij")
    points = np.stack([a.ravel() for a in axes], axis=1)  # (N, 3)
    return np.concatenate([points, np.ones((len(points), 1))], axis=1)


def _lookup_flat(points: np.ndarray, grid: GridSpec) -> tuple[np.ndarray, np.ndarray]:
    """Flat index of the voxel containing each point (N, 3), and whether the point is inside the grid."""
    origin, size = np.asarray(grid.origin), np.asarray(grid.voxel_size)
    index = np.floor((points - origin) / size).astype(np.int64)  # (N, 3)
    inside = ((index >= 0) & (index < np.asarray(grid.cells))).all(axis=1)
    index = np.where(inside[:, None], index, 0)
    flat = (index[:, 0] * grid.cells[1] + index[:, 1]) * grid.cells[2] + index[:, 2]
    return flat, inside


def ego_to_anchored(
    labels: np.ndarray, unobserved: np.ndarray | None, grid: GridSpec, poses: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Express ego-convention frames in frame 0's ego pose (the anchored convention).

    labels (T, X, Y, Z) uint8 and unobserved (T, X, Y, Z) bool or None are in the ego frame of each
    frame's own pose; poses (T, 4, 4) are world-from-ego. Each voxel centre of frame 0's grid goes to
    the world (poses[0]) and into frame t's ego frame (inv(poses[t])), where it takes the voxel
    containing it. Where it falls outside frame t's grid the voxel is free and unobserved.
    """
    _check_volume(labels, unobserved, grid.cells)
    num_frames = labels.shape[0]
    _check_poses(poses, num_frames)
    centers = _voxel_centers(grid)  # (N, 4) in frame 0's ego frame
    flat_labels = labels.reshape(num_frames, -1)
    flat_hidden = None if unobserved is None else unobserved.reshape(num_frames, -1)
    out_labels = np.zeros_like(flat_labels)
    out_hidden = np.ones(flat_labels.shape, dtype=bool)
    for t in range(num_frames):
        ego_t_from_ego_0 = np.linalg.solve(poses[t], poses[0])
        points = (centers @ ego_t_from_ego_0.T)[:, :3]  # (N, 3) in frame t's ego frame
        flat, inside = _lookup_flat(points, grid)
        out_labels[t, inside] = flat_labels[t, flat[inside]]
        out_hidden[t, inside] = False if flat_hidden is None else flat_hidden[t, flat[inside]]
    return out_labels.reshape(labels.shape), out_hidden.reshape(labels.shape)


def poses_from_rows(rows: np.ndarray, *, where: str) -> np.ndarray:
    """(N, 12) 3×4 or (N, 16) 4×4 row-major pose rows → (N, 4, 4) float64 world-from-ego matrices."""
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim == 3 and rows.shape[1:] in ((3, 4), (4, 4)):
        rows = rows.reshape(len(rows), -1)
    if rows.ndim != 2 or rows.shape[1] not in (12, 16):
        raise InputError(
            f"{where}: expected one pose per row of 12 (3×4) or 16 (4×4) numbers, got shape {rows.shape}"
        )
    if not np.isfinite(rows).all():
        raise InputError(f"{where}: poses contain NaN or infinite values")
    poses = np.tile(np.eye(4), (len(rows), 1, 1))
    poses[:, : rows.shape[1] // 4, :] = rows.reshape(len(rows), -1, 4)
    return poses


def read_pose_text(path: Path) -> np.ndarray:
    """Read a text pose file (one 3×4 or 4×4 row-major pose per line) as (N, 4, 4) float64."""
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.split()]
        except ValueError:
            raise InputError(f"{path}: line {number} is not a list of numbers") from None
        if len(values) not in (12, 16) or (rows and len(values) != len(rows[0])):
            raise InputError(f"{path}: line {number} has {len(values)} numbers, expected 12 (a 3×4 pose)")
        rows.append(values)
    if not rows:
        return np.zeros((0, 4, 4))
    return poses_from_rows(np.array(rows).reshape(len(rows), -1), where=str(path))


def clip_grid(preset: str, convention: str, start: int, length: int) -> GridSpec:
    """The `preset` grid for a clip of `length` frames, after checking the clip options."""
    grid = GridSpec.preset(preset)
    if convention not in CONVENTIONS:
        raise InputError(f"unknown convention {convention!r}; expected one of: {', '.join(CONVENTIONS)}")
    if int(length) < 1:
        raise InputError(f"clip length must be at least 1 frame, got {length}")
    if int(start) < 0:
        raise InputError(f"clip start must be a frame index ≥ 0, got {start}")
    return grid.with_frames(int(length))


def check_clip_range(scene: Path, available: int, start: int, length: int) -> None:
    """Raise if frames start..start+length-1 are not all among the scene's `available` frames."""
    if start + length > available:
        raise InputError(
            f"{scene}: too few frames, {available} available; a clip of {length} frames "
            f"from frame {start} needs {start + length}"
        )
