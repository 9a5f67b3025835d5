"""Building blocks of the HexPlane VAE: residual convs, the Projection Module and its pooling baseline.

The Projection Module (DynamicCity §3.1) replaces average pooling: each plane is a learned,
content-dependent weighting of the 4D feature volume over the axes the plane collapses. The reference
uses a small transformer per plane; here each plane attends once, with one query per output cell
(from the cell's mean feature plus a learned per-plane query) over the collapsed positions, whose keys
carry a learned position embedding. That keeps the learned projection while costing about as much as
a linear layer over the feature volume, through PyTorch's fused scaled-dot-product attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from core.models.hexplane import PLANES

# Axes of the feature volume (B, C, T, X, Y, Z) that each plane keeps, in the plane's axis order.
KEPT_AXES = {"xy": (3, 4), "xz": (3, 5), "yz": (4, 5), "tx": (2, 3), "ty": (2, 4), "tz": (2, 5)}


class ResBlock3d(nn.Module):
    """Two 3×3×3 convs with a skip, on (N, C, X, Y, Z)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv3d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class ResBlock2d(nn.Module):
    """Two 3×3 convs with a skip, on (N, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


def collapse(volume: torch.Tensor, plane: str) -> tuple[torch.Tensor, tuple[int, int]]:
    """(B, C, T, X, Y, Z) → (B·A·A', R, C) tokens over the collapsed axes R, and the plane's (A, A')."""
    kept = KEPT_AXES[plane]
    dropped = [axis for axis in (2, 3, 4, 5) if axis not in kept]
    moved = volume.permute(0, *kept, *dropped, 1)  # (B, A, A', R1, R2, C)
    batch, a, b = moved.shape[:3]
    return moved.reshape(batch * a * b, -1, volume.shape[1]), (a, b)


class AttentionProjection(nn.Module):
    """Learned projection of the 4D feature volume onto one plane (multi-head attention pooling)."""

    def __init__(self, channels: int, heads: int, collapsed_positions: int) -> None:
        super().__init__()
        self.heads = heads
        self.position = nn.Parameter(torch.zeros(collapsed_positions, channels))
        self.query_bias = nn.Parameter(torch.zeros(channels))
        self.to_query = nn.Linear(channels, channels)
        self.to_key_value = nn.Linear(channels, 2 * channels)
        self.out = nn.Linear(channels, channels)
        nn.init.normal_(self.position, std=0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, R, C) → (N, C)."""
        query = self.to_query(tokens.mean(dim=1)) + self.query_bias  # (N, C)
        key, value = self.to_key_value(tokens + self.position).chunk(2, dim=-1)  # (N, R, C) each
        split = "n r (h d) -> n h r d"
        query = rearrange(query[:, None], split, h=self.heads)
        pooled = F.scaled_dot_product_attention(
            query, rearrange(key, split, h=self.heads), rearrange(value, split, h=self.heads)
        )  # (N, h, 1, d)
        return self.out(rearrange(pooled, "n h 1 d -> n (h d)"))


class ProjectionModule(nn.Module):
    """The six planes from a (B, C, T', X', Y', Z') feature volume: attention or average pooling."""

    def __init__(self, channels: int, heads: int, sizes: tuple[int, int, int, int], mode: str) -> None:
        super().__init__()
        self.mode = mode
        total = sizes[0] * sizes[1] * sizes[2] * sizes[3]
        if mode == "attention":
            self.project = nn.ModuleDict({
                name: AttentionProjection(channels, heads, total // _kept_size(name, sizes)) for name in PLANES
            })

    def forward(self, volume: torch.Tensor) -> dict[str, torch.Tensor]:
        planes = {}
        for name in PLANES:
            if self.mode == "average":
                dropped = tuple(a for a in (2, 3, 4, 5) if a not in KEPT_AXES[name])
                planes[name] = volume.mean(dim=dropped)
                continue
            tokens, (a, b) = collapse(volume, name)
            pooled = self.project[name](tokens)  # (B·A·A', C)
            planes[name] = rearrange(pooled, "(n a b) c -> n c a b", a=a, b=b)
        return planes


def _kept_size(plane: str, sizes: tuple[int, int, int, int]) -> int:
    first, second = KEPT_AXES[plane]
    return sizes[first - 2] * sizes[second - 2]
