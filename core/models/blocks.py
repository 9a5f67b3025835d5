"""Building blocks of the HexPlane VAE: residual convs, the Projection Module and its pooling baseline.

The Projection Module (DynamicCity §3.1) replaces average pooling: each plane is a learned,
content-dependent weighting of the 4D feature volume over the axes the plane collapses. The reference
uses a small transformer per plane; here each plane attends once, with one query per output cell
(from the cell's mean feature plus a learned per-plane query) over the collapsed positions, whose keys
carry a learned position embedding. That keeps the learned projection while costing less than a linear
layer over the feature volume: with one query per cell, the key and value projections move onto the
query and the pooled result, so keys and values are never formed (see `AttentionProjection.forward`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from torch.utils.checkpoint import checkpoint

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

    def __init__(self, channels: int, heads: int, collapsed_positions: int, direct_scores: bool = False) -> None:
        super().__init__()
        self.heads = heads
        self.position = nn.Parameter(torch.zeros(collapsed_positions, channels))
        self.query_bias = nn.Parameter(torch.zeros(channels))
        self.to_query = nn.Linear(channels, channels)
        self.to_key_value = nn.Linear(channels, 2 * channels)
        self.out = nn.Linear(channels, channels)
        nn.init.normal_(self.position, std=0.02)
        # Scores linear in their own parameters (see `attention`); zero at first, so the projection
        # still starts as a mean, but one that moves at first order.
        self.position_scores = nn.Parameter(torch.zeros(heads, collapsed_positions)) if direct_scores else None
        self.content_scores = nn.Parameter(torch.zeros(heads, channels)) if direct_scores else None

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, R, C) → (N, C): multi-head attention of one query per row over its R tokens.

        Computed without forming keys and values (each as large as the feature volume): for head h,
        q_h·(W_k,h x_r + b_k,h) = (W_k,hᵀ q_h)·x_r + const, and Σ_r a_r (W_v,h x_r + b_v,h) =
        W_v,h (Σ_r a_r x_r) + b_v,h since the weights a_r sum to 1. The constant cancels in the softmax.
        Same function and weights as attention over projected keys and values, a fraction of the memory.
        """
        rows, _, channels = tokens.shape
        weights, x = self.attention(tokens)
        pooled = torch.bmm(weights, x)  # (N, h, C): each head's weighted mean of the tokens
        value_weight = self.to_key_value.weight.view(2, self.heads, channels // self.heads, channels)[1]
        value_bias = self.to_key_value.bias.view(2, self.heads, -1)[1]
        heads = torch.einsum("nhc,hdc->nhd", pooled, value_weight) + value_bias  # (N, h, d)
        return self.out(heads.reshape(rows, channels))

    def attention(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, R, C) → each head's weights over the R tokens (N, h, R), and the tokens with their
        position embedding (N, R, C). Uniform weights would make the projection an average pooling
        followed by linear maps (`bench/projection_attention.py` measures how far from uniform they are).

        The query·key scores are a product of two learned maps, both small at initialisation. With
        `direct_scores`, each head also adds a learned score per collapsed position and a learned fixed
        query's reading of each token: linear in those parameters and zero at first. They were a test of
        whether that product keeps the weights near uniform; at 400 steps they neither sharpened the
        weights nor raised the mIoU (README, measured figures), so the shipped VAE does without them."""
        rows, _, channels = tokens.shape
        head = channels // self.heads
        x = tokens + self.position
        query = (self.to_query(tokens.mean(dim=1)) + self.query_bias).view(rows, self.heads, head)
        key_weight = self.to_key_value.weight.view(2, self.heads, head, channels)[0]
        reads = torch.einsum("nhd,hdc->nhc", query, key_weight) * head ** -0.5  # (N, h, C)
        if self.content_scores is not None:
            reads = reads + self.content_scores
        scores = torch.bmm(reads, x.transpose(1, 2))  # (N, h, R)
        if self.position_scores is not None:
            scores = scores + self.position_scores
        return torch.softmax(scores, dim=-1), x


class ProjectionModule(nn.Module):
    """The six planes from a (B, C, T', X', Y', Z') feature volume: attention or average pooling."""

    def __init__(self, channels: int, heads: int, sizes: tuple[int, int, int, int], mode: str,
                 direct_scores: bool = False) -> None:
        super().__init__()
        self.mode = mode
        total = sizes[0] * sizes[1] * sizes[2] * sizes[3]
        if mode == "attention":
            self.project = nn.ModuleDict({
                name: AttentionProjection(channels, heads, total // _kept_size(name, sizes), direct_scores)
                for name in PLANES
            })

    def forward(self, volume: torch.Tensor) -> dict[str, torch.Tensor]:
        planes = {}
        for name in PLANES:
            if self.mode == "average":
                dropped = tuple(a for a in (2, 3, 4, 5) if a not in KEPT_AXES[name])
                planes[name] = volume.mean(dim=dropped)
                continue
            pooled = self.project_plane(volume, name)  # (B·A·A', C)
            a, b = (volume.shape[axis] for axis in KEPT_AXES[name])
            planes[name] = rearrange(pooled, "(n a b) c -> n c a b", a=a, b=b)
        return planes

    def project_plane(self, volume: torch.Tensor, name: str) -> torch.Tensor:
        """One plane's pooled rows. In training, its intermediates (each as large as the feature volume)
        are recomputed in the backward pass instead of kept: cheap, since the projection is."""
        if self.training and torch.is_grad_enabled():
            return checkpoint(self.pool, volume, name, use_reentrant=False)
        return self.pool(volume, name)

    def pool(self, volume: torch.Tensor, name: str) -> torch.Tensor:
        return self.project[name](collapse(volume, name)[0])


def _kept_size(plane: str, sizes: tuple[int, int, int, int]) -> int:
    first, second = KEPT_AXES[plane]
    return sizes[first - 2] * sizes[second - 2]
