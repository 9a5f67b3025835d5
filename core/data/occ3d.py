"""Reader for Occ3D scenes (Occ3D-nuScenes and Occ3D-Waymo ground truth), as clips of the project's scenes.

A scene folder holds one subfolder per frame, ordered by name, each with a `labels.npz` of `semantics`
(200×200×16 uint8 ids, axes X, Y, Z), `mask_lidar` and `mask_camera`. The grid is 0.4 m voxels over
x, y ∈ [-40, 40] m and z ∈ [-1, 5.4] m in the ego frame. Ids are remapped to the 12 classes with the
palette (DESIGN §2): nuScenes uses 0..17 with 17 free; Waymo 0..15 with 15 and 23 free, so a 23 in the
data identifies Waymo when `variant="auto"`. Unobserved voxels are those outside the chosen visibility
mask (camera by default).

Poses (world-from-ego, needed only to convert to the anchored convention) come from a scene-level
`poses.npy` (T×4×4, T×3×4, T×12 or T×16) or `poses.txt` (one 3×4 or 4×4 row-major pose a line), from a
`pose.txt` in every frame folder, or from an `ego_pose` 4×4 entry in every `labels.npz`.

The z origin differs from the project grids: Occ3D's layers start at -1 m with ground near there, the
preset grids span z ∈ [-2, 1] m with ground on the bottom layers. Before resampling, Occ3D z coordinates
are shifted by `z_offset` (default -1.0 m, so Occ3D's -1 m maps to the preset's -2 m bottom); x and y
keep their metric meaning, so the ±25.6 m presets take the centre crop of Occ3D's ±40 m.
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
from pathlib import Path

import numpy as np

from core.data.palette import PALETTE
from core.data.scene_io import read_npz
from core.data.resample import (
    check_clip_range, clip_grid, ego_to_anchored, poses_from_rows, read_pose_text, resample_to_grid,
)
from core.types import GridSpec, InputError, OccupancySequence

CELLS = (200, 200, 16)
NATIVE_GRID = GridSpec(1, CELLS, (0.4, 0.4, 0.4), (-40.0, -40.0, -1.0))
VARIANTS = ("auto", "nuscenes", "waymo")
MASKS = ("camera", "lidar", "none")
MAX_ID = {"nuscenes": 17, "waymo": 23}
WAYMO_FREE = 23


def _frame_folders(path: Path) -> list[Path]:
    folders = sorted(c for c in path.iterdir() if c.is_dir() and not c.name.startswith("."))
    with_labels = [c for c in folders if (c / "labels.npz").is_file()]
    if not with_labels:
        raise InputError(f"{path}: no frame folders with labels.npz (expected <scene>/<frame>/labels.npz)")
    if len(with_labels) != len(folders):
        missing = next(c for c in folders if c not in with_labels)
        raise InputError(f"{path}: partial Occ3D scene, frame folder {missing.name} has no labels.npz")
    return with_labels


def _entry(arrays: dict[str, np.ndarray], key: str, path: Path, hint: str = "") -> np.ndarray:
    if key not in arrays:
        raise InputError(f"{path}: no {key!r} entry (found {sorted(arrays)}){hint}")
    value = arrays[key]
    if value.shape != CELLS:
        raise InputError(f"{path}: {key!r} has shape {value.shape}, expected {CELLS}")
    if value.dtype.kind not in "biu":
        raise InputError(f"{path}: {key!r} has dtype {value.dtype}, expected an integer or bool array")
    return value


def _read_scene_poses(path: Path) -> np.ndarray | None:
    if (path / "poses.npy").is_file():
        try:
            rows = np.load(path / "poses.npy", allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise InputError(f"{path / 'poses.npy'}: unreadable ({error})") from None
        return poses_from_rows(rows, where=str(path / "poses.npy"))
    if (path / "poses.txt").is_file():
        return read_pose_text(path / "poses.txt")
    return None


def _all_or_none(folders: list[Path], present: list[bool], what: str) -> bool:
    if all(present):
        return True
    if any(present):
        missing = folders[present.index(False)]
        raise InputError(f"{missing}: no {what}, while other frame folders of the scene have one")
    return False


def _read_frame_pose_files(folders: list[Path]) -> np.ndarray | None:
    if not _all_or_none(folders, [(f / "pose.txt").is_file() for f in folders], "pose.txt"):
        return None
    poses = [read_pose_text(f / "pose.txt") for f in folders]
    for folder, pose in zip(folders, poses):
        if len(pose) != 1:
            raise InputError(f"{folder / 'pose.txt'}: {len(pose)} poses, expected one")
    return np.concatenate(poses)


def _npz_keys(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            return [name.removesuffix(".npy") for name in archive.namelist()]
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(f"{path}: not a valid .npz archive or truncated ({error})") from None


def _read_npz_poses(folders: list[Path]) -> np.ndarray | None:
    """Poses from an `ego_pose` entry of every labels.npz; only that entry is decompressed."""
    paths = [f / "labels.npz" for f in folders]
    if not _all_or_none(folders, ["ego_pose" in _npz_keys(p) for p in paths], "'ego_pose' in labels.npz"):
        return None
    rows = [read_npz(p, keys=("ego_pose",))["ego_pose"].reshape(1, -1) for p in paths]
    return poses_from_rows(np.concatenate(rows), where=f"{folders[0].parent}: 'ego_pose' entries")


def _remap(semantics: np.ndarray, variant: str, path: Path) -> np.ndarray:
    low, high = int(semantics.min()), int(semantics.max())
    if low < 0 or high > MAX_ID[variant]:
        bad = high if high > MAX_ID[variant] else low
        expected = f"expected 0..{MAX_ID[variant]}"
        raise InputError(f"{path}: semantic id {bad} is not an Occ3D-{variant} id ({expected})")
    return PALETTE.remap(f"occ3d-{variant}")[semantics.astype(np.int64)]


class Occ3DScene:
    """One Occ3D scene folder (one subfolder with a `labels.npz` per frame); frames are read per clip.

    variant:   "auto" (Waymo if an id 23 appears in the clip, else nuScenes), "nuscenes" or "waymo".
    mask:      which visibility mask marks observed voxels: "camera", "lidar" or "none" (all observed).
    z_offset:  metres added to Occ3D z coordinates before resampling (see the module docstring).
    """

    def __init__(
        self, path: str | os.PathLike, *, variant: str = "auto", mask: str = "camera", z_offset: float = -1.0,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise InputError(f"{self.path}: no such Occ3D scene folder")
        if variant not in VARIANTS:
            raise InputError(f"unknown Occ3D variant {variant!r}; expected one of: {', '.join(VARIANTS)}")
        if mask not in MASKS:
            raise InputError(f"unknown Occ3D visibility mask {mask!r}; expected one of: {', '.join(MASKS)}")
        self.variant, self.mask, self.z_offset = variant, mask, float(z_offset)
        self.frame_folders = _frame_folders(self.path)
        self.poses = _read_scene_poses(self.path)
        if self.poses is None:
            self.poses = _read_frame_pose_files(self.frame_folders)
        if self.poses is None:
            self.poses = _read_npz_poses(self.frame_folders)
        if self.poses is not None and len(self.poses) != self.num_frames:
            count = len(self.poses)
            raise InputError(f"{self.path}: {count} poses for {self.num_frames} frames; expected one per frame")

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def num_frames(self) -> int:
        return len(self.frame_folders)

    def read_frame(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw frame `index`: (200, 200, 16) semantic ids and unobserved mask (None with mask "none")."""
        path = self.frame_folders[index] / "labels.npz"
        arrays = read_npz(path)
        semantics = _entry(arrays, "semantics", path)
        unobserved = None
        if self.mask != "none":
            hint = "; choose another visibility mask or 'none'"
            unobserved = ~_entry(arrays, f"mask_{self.mask}", path, hint).astype(bool)
        return semantics, unobserved

    def _variant(self, semantics: np.ndarray) -> str:
        if self.variant != "auto":
            return self.variant
        return "waymo" if (semantics == WAYMO_FREE).any() else "nuscenes"

    def clip(
        self, start: int = 0, length: int = 16, *, preset: str = "cpu", convention: str = "anchored",
    ) -> OccupancySequence:
        """Frames start..start+length-1 as a scene on the `preset` grid in the chosen `convention`."""
        grid = clip_grid(preset, convention, start, length)
        start, length = int(start), int(length)
        check_clip_range(self.path, self.num_frames, start, length)
        poses = None if self.poses is None else self.poses[start : start + length].copy()
        if convention == "anchored" and poses is None:
            raise InputError(
                f"{self.path}: no poses; the anchored convention needs poses (poses.npy or poses.txt in the "
                "scene folder, pose.txt or an 'ego_pose' entry per frame), or use convention 'ego'"
            )
        frames = [self.read_frame(i) for i in range(start, start + length)]
        semantics = np.stack([f[0] for f in frames])  # (T, 200, 200, 16)
        variant = self._variant(semantics)
        paths = [self.frame_folders[i] / "labels.npz" for i in range(start, start + length)]
        labels = np.stack([_remap(s, variant, p) for s, p in zip(semantics, paths)])
        unobserved = None if self.mask == "none" else np.stack([f[1] for f in frames])
        native = NATIVE_GRID.with_frames(length)
        if convention == "anchored":
            labels, unobserved = ego_to_anchored(labels, unobserved, native, poses)
        shifted = dataclasses.replace(native, origin=(*native.origin[:2], native.origin[2] + self.z_offset))
        labels, unobserved = resample_to_grid(labels, unobserved, shifted, grid)
        return OccupancySequence(
            labels=labels, grid=grid, poses=poses, unobserved=unobserved, convention=convention,
            metadata={"source": f"occ3d-{variant}", "scene": self.name, "start": start},
        )


def is_occ3d_scene(path: str | os.PathLike) -> bool:
    """Whether `path` looks like an Occ3D scene folder (a subfolder holds a labels.npz)."""
    path = Path(path)
    return path.is_dir() and any((c / "labels.npz").is_file() for c in path.iterdir() if c.is_dir())
