"""A streaming torch `IterableDataset` over the procedural city, for training without a data folder.

Each item is one clip as tensors: labels (T, X, Y, Z) int64, trajectory (T, 3) float32, command ()
int64, layout (X, Y) int64 and vehicle occupancy (T, X, Y) bool, plus its seed. Seeds come from the
split's range; every (distributed rank, loader worker) pair takes a disjoint, interleaved slice of it,
so no two workers ever produce the same clip.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from core.data.procedural import generate_clip, split_seed
from core.types import GridSpec


class ProceduralDataset(IterableDataset):
    def __init__(
        self, *, split: str = "train", preset: str = "cpu", convention: str = "anchored", start: int = 0,
        length: int | None = None, rank: int = 0, world_size: int = 1,
    ) -> None:
        super().__init__()
        split_seed(split, 0)  # validates the split name now rather than in a worker
        self.split, self.grid, self.convention = split, GridSpec.preset(preset), convention
        self.start, self.length, self.rank, self.world_size = start, length, rank, world_size

    def seed_indices(self) -> Iterator[int]:
        """Indices into the split's seed range that this process and worker own."""
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        shard, shards = self.rank * workers + worker, self.world_size * workers
        index = self.start + shard
        while self.length is None or index < self.start + self.length:
            yield index
            index += shards

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for index in self.seed_indices():
            seed = split_seed(self.split, index)
            clip = generate_clip(seed, grid=self.grid, convention=self.convention)
            yield {
                "labels": torch.from_numpy(clip.scene.labels.astype(np.int64)),
                "trajectory": torch.from_numpy(clip.trajectory.poses.astype(np.float32)),
                "command": torch.tensor(int(clip.command)),
                "layout": torch.from_numpy(clip.layout.static.astype(np.int64)),
                "vehicles": torch.from_numpy(clip.layout.vehicles),
                "seed": torch.tensor(seed),
            }
