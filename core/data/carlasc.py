"""Reader for CarlaSC scenes in their on-disk layout (DESIGN §2), as clips of the project's scenes.

A scene folder holds `cartesian/evaluation/NNNNNN.label` (uint32, 128·128·8 raw ids 0..22 in C order
X, Y, Z) and `NNNNNN.bin` (float32 LiDAR point counts; 0 marks an unobserved voxel) per frame, and
`cartesian/poses.txt` with one 3×4 row-major world-from-ego pose per frame. The dataset root is
`Cartesian/{Train,Val,Test}/<scene>`. A clip is T consecutive frames (a sliding window): labels are
remapped to the 12 classes with the palette, optionally converted from CarlaSC's native ego convention
to the anchored one with the poses (at the native 0.4 m resolution), then resampled to a preset grid.
Every problem with the folder raises `InputError` with a one-line message naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.data.palette import PALETTE
from core.data.resample import check_clip_range, clip_grid, ego_to_anchored, read_pose_text, resample_to_grid
from core.types import GridSpec, InputError, OccupancySequence

CELLS = (128, 128, 8)
NUM_VOXELS = CELLS[0] * CELLS[1] * CELLS[2]
FRAME_BYTES = NUM_VOXELS * 4  # uint32 labels and float32 counts alike
MAX_RAW_ID = 22
SPLITS = ("Train", "Val", "Test")


def _frame_stems(evaluation: Path, suffix: str) -> list[str]:
    return sorted(p.stem for p in evaluation.glob(f"*{suffix}") if p.is_file())


def _check_pairs(scene: Path, labels: list[str], counts: list[str]) -> None:
    unpaired_labels = sorted(set(labels) - set(counts))
    unpaired_counts = sorted(set(counts) - set(labels))
    if unpaired_labels:
        raise InputError(
            f"{scene}: partial CarlaSC scene, frame {unpaired_labels[0]} has a .label but no .bin "
            f"({len(labels)} .label and {len(counts)} .bin files)"
        )
    if unpaired_counts:
        raise InputError(
            f"{scene}: partial CarlaSC scene, frame {unpaired_counts[0]} has a .bin but no .label "
            f"({len(labels)} .label and {len(counts)} .bin files)"
        )


def _check_size(path: Path) -> None:
    size = path.stat().st_size
    if size != FRAME_BYTES:
        raise InputError(
            f"{path}: {size} bytes, expected {FRAME_BYTES} (128×128×8 4-byte values); "
            "truncated or not CarlaSC"
        )


class CarlaSCScene:
    """One CarlaSC scene folder; frames are listed and size-checked up front, read per clip."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise InputError(f"{self.path}: no such CarlaSC scene folder")
        cartesian = self.path / "cartesian"
        if not cartesian.is_dir():
            raise InputError(f"{self.path}: not a CarlaSC scene folder (no cartesian/ subfolder)")
        self.evaluation = cartesian / "evaluation"
        if not self.evaluation.is_dir():
            raise InputError(f"{self.path}: partial CarlaSC scene, missing cartesian/evaluation/")
        label_stems = _frame_stems(self.evaluation, ".label")
        count_stems = _frame_stems(self.evaluation, ".bin")
        if not label_stems and not count_stems:
            raise InputError(
                f"{self.path}: no frames in cartesian/evaluation/ (expected NNNNNN.label and NNNNNN.bin)"
            )
        _check_pairs(self.path, label_stems, count_stems)
        self.frame_names: list[str] = label_stems
        for stem in self.frame_names:
            _check_size(self.evaluation / f"{stem}.label")
            _check_size(self.evaluation / f"{stem}.bin")
        self.poses = self._read_poses(cartesian / "poses.txt")

    def _read_poses(self, path: Path) -> np.ndarray | None:
        if not path.is_file():
            return None
        poses = read_pose_text(path)
        if len(poses) != self.num_frames:
            raise InputError(f"{path}: {len(poses)} poses for {self.num_frames} frames; expected one per frame")
        return poses

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def num_frames(self) -> int:
        return len(self.frame_names)

    def read_frame(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw frame `index`: (128, 128, 8) uint8 class ids (remapped) and bool unobserved mask."""
        stem = self.frame_names[index]
        label_path = self.evaluation / f"{stem}.label"
        raw = np.fromfile(label_path, dtype="<u4")
        if raw.size != NUM_VOXELS:
            raise InputError(f"{label_path}: {raw.size * 4} bytes, expected {FRAME_BYTES}")
        top = int(raw.max())
        if top > MAX_RAW_ID:
            raise InputError(f"{label_path}: label id {top} is not a CarlaSC id (expected 0..{MAX_RAW_ID})")
        counts_path = self.evaluation / f"{stem}.bin"
        counts = np.fromfile(counts_path, dtype="<f4")
        if counts.size != NUM_VOXELS:
            raise InputError(f"{counts_path}: {counts.size * 4} bytes, expected {FRAME_BYTES}")
        labels = PALETTE.remap("carlasc")[raw].reshape(CELLS)
        return labels, (counts == 0).reshape(CELLS)

    def clip(
        self, start: int = 0, length: int = 16, *, preset: str = "cpu", convention: str = "anchored",
    ) -> OccupancySequence:
        """Frames start..start+length-1 as a scene on the `preset` grid in the chosen `convention`."""
        grid = clip_grid(preset, convention, start, length)
        start, length = int(start), int(length)
        check_clip_range(self.path, self.num_frames, start, length)
        if convention == "anchored" and self.poses is None:
            raise InputError(
                f"{self.path}: no cartesian/poses.txt; the anchored convention needs poses "
                "(use convention 'ego')"
            )
        frames = [self.read_frame(i) for i in range(start, start + length)]
        labels = np.stack([f[0] for f in frames])  # (T, 128, 128, 8)
        unobserved = np.stack([f[1] for f in frames])
        poses = None if self.poses is None else self.poses[start : start + length].copy()
        source = GridSpec.preset("carlasc").with_frames(length)
        if convention == "anchored":
            labels, unobserved = ego_to_anchored(labels, unobserved, source, poses)
        labels, unobserved = resample_to_grid(labels, unobserved, source, grid)
        return OccupancySequence(
            labels=labels, grid=grid, poses=poses, unobserved=unobserved, convention=convention,
            metadata={"source": "carlasc", "scene": self.name, "start": start},
        )

    def clip_starts(self, length: int = 16, stride: int = 1) -> range:
        """First frames of the sliding-window clips of `length` frames, `stride` frames apart."""
        if int(stride) < 1:
            raise InputError(f"clip stride must be at least 1 frame, got {stride}")
        check_clip_range(self.path, self.num_frames, 0, int(length))
        return range(0, self.num_frames - int(length) + 1, int(stride))

    def clips(
        self, length: int = 16, stride: int = 1, *, preset: str = "cpu", convention: str = "anchored",
    ) -> Iterator[OccupancySequence]:
        """Sliding-window clips of `length` frames, `stride` frames apart."""
        clip_grid(preset, convention, 0, length)
        for start in self.clip_starts(length, stride):
            yield self.clip(start, length, preset=preset, convention=convention)


def is_carlasc_scene(path: str | os.PathLike) -> bool:
    """Whether `path` looks like a CarlaSC scene folder (it has a cartesian/ subfolder)."""
    return (Path(path) / "cartesian").is_dir()


def _split_folder(root: Path, split: str) -> Path:
    base = root / "Cartesian" if (root / "Cartesian").is_dir() else root
    for child in sorted(base.iterdir()):
        if child.is_dir() and child.name.lower() == split.lower():
            return child
    found = [c.name for c in sorted(base.iterdir()) if c.is_dir()]
    raise InputError(f"{root}: no CarlaSC split folder {split!r} (expected one of {SPLITS}, found {found})")


def list_carlasc_scenes(root: str | os.PathLike, split: str | None = "Train") -> list[Path]:
    """Scene folders of a CarlaSC dataset root (`root/Cartesian/<split>/<scene>` or `root/<split>/<scene>`).

    `split` is one of Train, Val, Test (any case), or None for all three that exist.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such CarlaSC dataset folder")
    if split is None:
        base = root / "Cartesian" if (root / "Cartesian").is_dir() else root
        splits = [name for name in SPLITS if any(c.name.lower() == name.lower() for c in base.iterdir())]
        if not splits:
            raise InputError(f"{root}: not a CarlaSC dataset folder (no {'/'.join(SPLITS)} split folders)")
        return [scene for name in splits for scene in list_carlasc_scenes(root, name)]
    folder = _split_folder(root, split)
    scenes = sorted(child for child in folder.iterdir() if is_carlasc_scene(child))
    if not scenes:
        raise InputError(f"{folder}: no CarlaSC scene folders (expected <scene>/cartesian/evaluation/)")
    return scenes
