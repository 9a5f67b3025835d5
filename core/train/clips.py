"""Where training clips come from: the procedural city (default) or a CarlaSC / Occ3D folder.

A `ClipSource` hands out training batches by step number, so a resumed run continues with the very
clips it would have seen, and each distributed rank gets its own. Held-out evaluation clips come from
the procedural test seeds, or from a folder's clips that training never draws (every 10th window).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from core.config import VAEConfig
from core.data.procedural import generate_clip, split_seed
from core.types import GridSpec, InputError, OccupancySequence

FREQUENCY_CLIPS = 16


class ClipSource(Protocol):
    def batch(self, step: int, size: int, *, rank: int, world: int) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def eval_clips(self, count: int) -> list[OccupancySequence]: ...

    def class_frequencies(self) -> np.ndarray: ...


def _stack(scenes: list[OccupancySequence]) -> tuple[torch.Tensor, torch.Tensor | None]:
    labels = torch.from_numpy(np.stack([s.labels for s in scenes]).astype(np.int64))
    if all(s.unobserved is None for s in scenes):
        return labels, None
    masks = [s.unobserved if s.unobserved is not None else np.zeros(s.labels.shape, bool) for s in scenes]
    return labels, torch.from_numpy(np.stack(masks))


def _frequencies(scenes: list[OccupancySequence], num_classes: int) -> np.ndarray:
    counts = sum(np.bincount(s.labels.ravel(), minlength=num_classes) for s in scenes)
    return counts + 1.0  # no zero frequency: a class absent from the sample still gets a finite weight


@dataclass
class ProceduralClips:
    grid: GridSpec
    convention: str = "anchored"
    density: float = 1.0

    def _clip(self, split: str, index: int) -> OccupancySequence:
        return generate_clip(split_seed(split, index), grid=self.grid, convention=self.convention, density=self.density).scene

    def batch(self, step: int, size: int, *, rank: int = 0, world: int = 1) -> tuple[torch.Tensor, torch.Tensor | None]:
        first = (step * world + rank) * size
        return _stack([self._clip("train", first + i) for i in range(size)])

    def eval_clips(self, count: int) -> list[OccupancySequence]:
        """Held-out clips: procedural test seeds at the default density."""
        return [generate_clip(split_seed("test", i), grid=self.grid, convention=self.convention).scene for i in range(count)]

    def class_frequencies(self) -> np.ndarray:
        return _frequencies([self._clip("train", i) for i in range(FREQUENCY_CLIPS)], self.grid.num_classes)


@dataclass
class FolderClips:
    """Sliding-window clips of every CarlaSC / Occ3D scene under `root`; every 10th window is held out."""

    root: Path
    grid: GridSpec
    convention: str = "anchored"

    def __post_init__(self) -> None:
        from core.data.sources import open_reader

        folders = [p for p in sorted(self.root.rglob("*")) if p.is_dir()]
        self.readers = []
        for folder in [self.root, *folders]:
            try:
                reader = open_reader(folder)
            except InputError:
                continue
            if reader is not None and reader.num_frames >= self.grid.frames:
                self.readers.append(reader)
        windows = [(r, s) for r in self.readers for s in range(0, r.num_frames - self.grid.frames + 1, 2)]
        if not windows:
            raise InputError(f"{self.root}: no CarlaSC or Occ3D scene with {self.grid.frames} frames found")
        self.held_out = windows[::10]
        self.train = [w for i, w in enumerate(windows) if i % 10] or windows
        self.order = np.random.default_rng(0).permutation(len(self.train))

    def _clip(self, window) -> OccupancySequence:
        reader, start = window
        preset = "cpu" if self.grid.cells == (64, 64, 8) else "carlasc"
        return reader.clip(start, self.grid.frames, preset=preset, convention=self.convention)

    def batch(self, step: int, size: int, *, rank: int = 0, world: int = 1) -> tuple[torch.Tensor, torch.Tensor | None]:
        first = (step * world + rank) * size
        return _stack([self._clip(self.train[self.order[(first + i) % len(self.train)]]) for i in range(size)])

    def eval_clips(self, count: int) -> list[OccupancySequence]:
        return [self._clip(w) for w in self.held_out[:count]]

    def class_frequencies(self) -> np.ndarray:
        sample = [self._clip(self.train[i]) for i in self.order[:FREQUENCY_CLIPS]]
        return _frequencies(sample, self.grid.num_classes)


def make_clip_source(data: str, config: VAEConfig, *, convention: str = "anchored", density: float = 1.0) -> ClipSource:
    grid = config.grid()
    if data == "procedural":
        return ProceduralClips(grid, convention, density)
    root = Path(data)
    if not root.is_dir():
        raise InputError(f"--data must be 'procedural' or a dataset folder; {data} is neither")
    return FolderClips(root, grid, convention)
