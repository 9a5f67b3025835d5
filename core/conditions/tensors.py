"""Numpy conditions → the DiT's tensors, checked against the model's grid where they cross over.

`Conditions` (core.types) carry what a person asked for; absent ones stay None so the DiT uses its
learned null embedding. The earlier clip's latent, for extending a scene, travels separately.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from core.config import DiTConfig
from core.models.dit import DiTConditions
from core.types import Conditions, InputError


def check_conditions(conditions: Conditions, config: DiTConfig, cells: tuple[int, int, int]) -> None:
    """Raise a one-line InputError if a condition does not fit the model's grid."""
    if conditions.trajectory is not None and conditions.trajectory.poses.shape != (config.frames, 3):
        raise InputError(
            f"trajectory must have {config.frames} poses (x, y, yaw) per clip, got {conditions.trajectory.poses.shape}"
        )
    layout = conditions.layout
    if layout is not None:
        if layout.static.shape != cells[:2]:
            raise InputError(f"layout must be {cells[0]}×{cells[1]} cells, got {layout.static.shape[0]}×{layout.static.shape[1]}")
        if int(layout.static.max()) >= config.num_classes:
            raise InputError(f"layout holds class id {int(layout.static.max())}, expected < {config.num_classes}")
        if layout.vehicles is not None and layout.vehicles.shape[0] != config.frames:
            raise InputError(f"vehicle occupancy must have {config.frames} frames, got {layout.vehicles.shape[0]}")


def to_dit_conditions(
    conditions: Conditions, config: DiTConfig, cells: tuple[int, int, int], *, earlier: torch.Tensor | None = None,
    device: torch.device | str = "cpu",
) -> DiTConditions:
    """Conditions for a batch of one; `earlier` is the preceding clip's normalised rollout (1, C, H, W)."""
    check_conditions(conditions, config, cells)
    command = None if conditions.command is None else torch.tensor([int(conditions.command)], device=device)
    trajectory = None
    if conditions.trajectory is not None:
        trajectory = torch.from_numpy(conditions.trajectory.poses.astype(np.float32))[None].to(device)
    layout = vehicles = None
    if conditions.layout is not None:
        static = torch.from_numpy(conditions.layout.static.astype(np.int64))
        layout = F.one_hot(static, config.num_classes).permute(2, 0, 1)[None].float().to(device)
        if conditions.layout.vehicles is not None:
            vehicles = torch.from_numpy(conditions.layout.vehicles.astype(np.float32))[None].to(device)
    return DiTConditions(command=command, trajectory=trajectory, layout=layout, vehicles=vehicles,
                         earlier=None if earlier is None else earlier.to(device))
