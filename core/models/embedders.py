"""Condition embedders of the HexPlane DiT (DESIGN §2): each maps one condition to the DiT's width.

- timestep: sinusoidal features → MLP (one vector per sample);
- command: a learned vector per command (one per sample);
- trajectory: (T, 3) x, y, yaw → MLP (one per sample); and, optionally, the ego car's footprint drawn
  per frame on the bird's-eye grid (`ego_footprints`) through a layout embedder (one per token), so every
  token sees where the ego car should be at its time and place;
- layout: the bird's-eye static map (X, Y) and the per-frame vehicle occupancy (T, X, Y), each through
  its own small conv encoder, then *projected onto the padded rollout* so every token gets the part of
  the layout its planes describe (the xy region sees the map itself; rows of x see the map averaged
  over y, frames see the vehicles at that time, ...), then patchified: one vector per token;
- earlier clip: the preceding clip's HexPlane rollout, patchified by its own embedder: one per token.

An absent condition (None, or a sample whose `present` flag is False) becomes a learned null vector.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from core.models.hexplane import HexPlane, rollout


def timestep_features(t: torch.Tensor, dim: int = 256, max_period: float = 10000.0) -> torch.Tensor:
    """(B,) timesteps → (B, dim) sinusoidal features (as in DiT / ADM)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class Patchify(nn.Conv2d):
    """A convolution whose kernel is its stride (non-overlapping p × p patches), computed as a reshape
    and one matrix product: the same parameters and result as `nn.Conv2d(c, w, p, stride=p)`, so
    checkpoints load unchanged, and right under bfloat16 autocast on the CPU, where PyTorch 2.13's
    oneDNN convolution of this shape returns wrong results on AMX processors (`core.train.common`)."""

    def __init__(self, in_channels: int, out_channels: int, patch: int) -> None:
        super().__init__(in_channels, out_channels, patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        p = self.stride[0]
        patches = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)  # (B, H/p, W/p, C, p, p)
        patches = patches.reshape(b, h // p, w // p, c * p * p)
        return F.linear(patches, self.weight.flatten(1), self.bias).permute(0, 3, 1, 2)


class TimestepEmbedder(nn.Module):
    def __init__(self, width: int, features: int = 256) -> None:
        super().__init__()
        self.features = features
        self.mlp = nn.Sequential(nn.Linear(features, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(timestep_features(t, self.features))


class NullableEmbedder(nn.Module):
    """Wraps an embedding with a learned null vector used where the condition is absent."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.null = nn.Parameter(torch.zeros(width))
        nn.init.normal_(self.null, std=0.02)

    def choose(self, embedded: torch.Tensor | None, present: torch.Tensor | None, batch: int) -> torch.Tensor:
        """embedded (B, ..., W) or None; present (B,) bool or None (= all present)."""
        if embedded is None:
            return self.null.expand(batch, self.null.shape[0])
        if present is None:
            return embedded
        keep = present.view(-1, *([1] * (embedded.dim() - 1)))
        return torch.where(keep, embedded, self.null.to(embedded.dtype))


class CommandEmbedder(NullableEmbedder):
    def __init__(self, width: int, num_commands: int = 4) -> None:
        super().__init__(width)
        self.table = nn.Embedding(num_commands, width)

    def forward(self, command: torch.Tensor | None, present: torch.Tensor | None, batch: int) -> torch.Tensor:
        return self.choose(None if command is None else self.table(command), present, batch)


class TrajectoryEmbedder(NullableEmbedder):
    """(B, T, 3) x, y [m], yaw [rad] → (B, W); positions are scaled by `extent` metres."""

    def __init__(self, width: int, frames: int, extent: float) -> None:
        super().__init__(width)
        self.extent = extent
        self.mlp = nn.Sequential(nn.Linear(frames * 4, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, trajectory: torch.Tensor | None, present: torch.Tensor | None, batch: int) -> torch.Tensor:
        if trajectory is None:
            return self.choose(None, None, batch)
        yaw = trajectory[..., 2]
        features = torch.stack([trajectory[..., 0] / self.extent, trajectory[..., 1] / self.extent,
                                torch.cos(yaw), torch.sin(yaw)], dim=-1)
        return self.choose(self.mlp(features.flatten(1)), present, batch)


def ego_footprints(trajectory: torch.Tensor, cells: tuple[int, int], extent: float,
                   car: tuple[float, float]) -> torch.Tensor:
    """(B, T, 3) x, y [m], yaw → (B, 1, T, X, Y): the share of each cell a `car` (length, width metres)
    at that pose covers, on a grid `extent` metres across centred on frame 0's ego (approximately: the
    product of the overlaps along the car's two axes, exact for an axis-aligned car)."""
    size = extent / cells[0]
    xs = -extent / 2 + (torch.arange(cells[0], device=trajectory.device, dtype=trajectory.dtype) + 0.5) * size
    ys = -extent / 2 + (torch.arange(cells[1], device=trajectory.device, dtype=trajectory.dtype) + 0.5) * size
    dx = xs[None, None, :, None] - trajectory[..., 0, None, None]  # (B, T, X, 1)
    dy = ys[None, None, None, :] - trajectory[..., 1, None, None]  # (B, T, 1, Y)
    cos, sin = torch.cos(trajectory[..., 2])[..., None, None], torch.sin(trajectory[..., 2])[..., None, None]
    along, across = (cos * dx + sin * dy).abs(), (cos * dy - sin * dx).abs()

    def overlap(distance: torch.Tensor, half: float) -> torch.Tensor:
        return ((half + size / 2 - distance) / size).clamp(0, 1)

    return (overlap(along, car[0] / 2) * overlap(across, car[1] / 2))[:, None]


def pool_to(volume: torch.Tensor, sizes: tuple[int, int, int]) -> torch.Tensor:
    """(B, F, T, X, Y) → (B, F, *sizes) by block averages (a single frame is repeated over time)."""
    b, f = volume.shape[:2]
    if volume.shape[2] == 1:
        volume = volume.expand(-1, -1, sizes[0], -1, -1)
    shape = [b, f]
    for size, target in zip(volume.shape[2:], sizes):
        if size % target:
            return F.adaptive_avg_pool3d(volume, sizes)
        shape += [target, size // target]
    return volume.reshape(shape).mean((3, 5, 7))


def project_to_rollout(volume: torch.Tensor, sizes: tuple[int, int, int, int]) -> torch.Tensor:
    """(B, F, T, X, Y) bird's-eye features → (B, F, X'+T'+Z', Y'+Z'+T') on the padded rollout.

    Each plane gets the average of the features over the axes it does not keep (z is not in a
    bird's-eye map, so planes with z see the features broadcast along z).
    """
    t, x, y, z = sizes
    pooled = pool_to(volume, (t, x, y))  # (B, F, T', X', Y')
    planes = HexPlane(
        xy=pooled.mean(2),
        xz=pooled.mean((2, 4))[..., None].expand(-1, -1, -1, z),
        yz=pooled.mean((2, 3))[..., None].expand(-1, -1, -1, z),
        tx=pooled.mean(4),
        ty=pooled.mean(3),
        tz=pooled.mean((3, 4))[..., None].expand(-1, -1, -1, z),
    )
    return rollout(planes)


def rollout_footprint(marked: torch.Tensor, sizes: tuple[int, int, int, int]) -> torch.Tensor:
    """(B, T, X, Y) bool bird's-eye marks per frame → (B, 1, H, W) bool: the rollout cells whose
    projection (`project_to_rollout`) sees any marked cell."""
    return project_to_rollout(marked[:, None].float(), sizes) > 0


class LayoutEmbedder(NullableEmbedder):
    """Bird's-eye maps → one vector per rollout token: conv encoder, rollout projection, patchify.
    `silent`: the output layer and the null start at zero (a path grown onto a trained model)."""

    def __init__(self, width: int, in_channels: int, hidden: int, patch: int, sizes: tuple[int, int, int, int],
                 *, silent: bool = False) -> None:
        super().__init__(width)
        self.sizes = sizes
        self.encode = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3, padding=1), nn.SiLU(), nn.Conv2d(hidden, hidden, 3, padding=1),
        )
        self.patchify = Patchify(hidden, width, patch)
        if silent:
            for parameter in (self.null, self.patchify.weight, self.patchify.bias):
                nn.init.zeros_(parameter)

    def forward(self, maps: torch.Tensor | None, present: torch.Tensor | None, batch: int,
                keep: torch.Tensor) -> torch.Tensor:
        """maps (B, F, T, X, Y) (a static map has T = 1) → (B, N_kept, W)."""
        if maps is None:
            return self.choose(None, None, batch)[:, None]
        if maps.shape[2] > self.sizes[0]:  # vehicles: average frame groups first, the latent has T' frames
            maps = pool_to(maps, (self.sizes[0], *maps.shape[3:]))
        b, f, frames, x, y = maps.shape
        encoded = self.encode(maps.permute(0, 2, 1, 3, 4).reshape(b * frames, f, x, y))
        encoded = encoded.reshape(b, frames, -1, x, y).permute(0, 2, 1, 3, 4)  # (B, H, T, X, Y)
        tokens = self.patchify(project_to_rollout(encoded, self.sizes)).flatten(2).transpose(1, 2)
        return self.choose(tokens[:, keep], present, batch)


class EarlierClipEmbedder(NullableEmbedder):
    """The preceding clip's rollout (B, C, H, W) → (B, N_kept, W), one vector per token."""

    def __init__(self, width: int, channels: int, patch: int) -> None:
        super().__init__(width)
        self.patchify = Patchify(channels, width, patch)

    def forward(self, rolled: torch.Tensor | None, present: torch.Tensor | None, batch: int,
                keep: torch.Tensor) -> torch.Tensor:
        if rolled is None:
            return self.choose(None, None, batch)[:, None]
        tokens = self.patchify(rolled).flatten(2).transpose(1, 2)[:, keep]
        return self.choose(tokens, present, batch)
