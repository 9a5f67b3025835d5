"""HexPlane DiT (DynamicCity §3.2): an adaLN-Zero diffusion transformer over the padded rollout.

The rollout (B, C, X'+T'+Z', Y'+Z'+T') is cut into p×p patches; patches that are all padding are
dropped before the transformer and come back as zeros after it. Positions are fixed 2D sin-cos over
the full rollout grid. Conditioning is **per token**: c = timestep + trajectory + command (one vector
per sample, broadcast) + earlier-clip tokens + layout tokens + vehicle-occupancy tokens + the ego car's
footprints along the trajectory (one vector per token); every block modulates its LayerNorms with
shift / scale / gate from c (adaLN-Zero: the gates and the output layer start at zero, so a fresh model
predicts exactly zero noise).

A full W→6W modulation per token per block doubled the cost of a step on the CPU, so the modulation is
factorised: the per-sample part of c goes through a W→6W layer once per sample, the per-token part
through a shared W→r projection (computed once per sampling run: conditions do not change between
steps, see `encode_conditions`) and an r→6W layer per block. Every token still gets its own
modulation from its own layout / earlier-clip content.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.config import DiTConfig
from core.models.embedders import (
    CommandEmbedder, EarlierClipEmbedder, LayoutEmbedder, Patchify, TimestepEmbedder, TrajectoryEmbedder,
    ego_footprints,
)
from core.models.hexplane import padding_mask, rollout_shape


@dataclass
class DiTConditions:
    """Conditions as tensors for a batch of B. None = absent for the whole batch; a `*_present`
    (B,) bool marks per-sample absence (training dropout, mixed batches)."""

    command: torch.Tensor | None = None  # (B,) long
    trajectory: torch.Tensor | None = None  # (B, T, 3) float
    layout: torch.Tensor | None = None  # (B, num_classes, X, Y) one-hot static bird's-eye map
    vehicles: torch.Tensor | None = None  # (B, T, X, Y) float vehicle occupancy
    earlier: torch.Tensor | None = None  # (B, C, H, W) rollout of the preceding clip
    command_present: torch.Tensor | None = None
    trajectory_present: torch.Tensor | None = None
    layout_present: torch.Tensor | None = None
    vehicles_present: torch.Tensor | None = None
    earlier_present: torch.Tensor | None = None

    def empty(self) -> bool:
        """No condition given at all (every one absent for the whole batch)."""
        return all(value is None for value in (self.command, self.trajectory, self.layout, self.vehicles, self.earlier))


def sincos_2d(height: int, width: int, dim: int) -> torch.Tensor:
    """(height·width, dim) fixed 2D sin-cos position embedding (as in MAE / DiT)."""
    def one_axis(positions: np.ndarray, size: int) -> np.ndarray:
        omega = 1.0 / 10000 ** (np.arange(size // 2, dtype=np.float64) / (size / 2))
        angles = positions.reshape(-1)[:, None] * omega[None]
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    rows, cols = np.meshgrid(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64), indexing="ij")
    table = np.concatenate([one_axis(rows, dim // 2), one_axis(cols, dim // 2)], axis=1)
    return torch.from_numpy(table).float()


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


@dataclass
class ConditionCode:
    """Encoded conditions: `sample` (B, W) without the timestep, `tokens` (B, N or 1, r) for adaLN, and
    `inputs` (B, N or 1, W) added to the input tokens (None when the config has no such path)."""

    sample: torch.Tensor
    tokens: torch.Tensor
    inputs: torch.Tensor | None = None


class Modulation(nn.Module):
    """Factorised per-token adaLN parameters: A·silu(c_sample) + B·c_tokens, both zero-initialised."""

    def __init__(self, width: int, rank: int, outputs: int) -> None:
        super().__init__()
        self.outputs = outputs
        self.from_sample = nn.Linear(width, outputs * width)
        self.from_tokens = nn.Linear(rank, outputs * width, bias=False)
        for layer in (self.from_sample, self.from_tokens):
            nn.init.zeros_(layer.weight)
        nn.init.zeros_(self.from_sample.bias)

    def forward(self, sample: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """sample (B, W) (already through SiLU), tokens (B, N or 1, r) → `outputs` tensors (B, N, W)."""
        return (self.from_sample(sample)[:, None] + self.from_tokens(tokens)).chunk(self.outputs, dim=-1)


class DiTBlock(nn.Module):
    """Pre-norm transformer block with per-token adaLN-Zero modulation."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, rank: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, width))
        self.modulation = Modulation(width, rank, 6)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        q, k, v = self.qkv(x).view(batch, tokens, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, d)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, width))

    def forward(self, x: torch.Tensor, sample: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """x (B, N, W) tokens; conditioning: sample (B, W), tokens (B, N or 1, r)."""
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(sample, tokens)
        x = x + gate1 * self.attention(modulate(self.norm1(x), shift1, scale1))
        return x + gate2 * self.mlp(modulate(self.norm2(x), shift2, scale2))


class FinalLayer(nn.Module):
    def __init__(self, width: int, patch: int, channels: int, rank: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(width, patch * patch * channels)
        self.modulation = Modulation(width, rank, 2)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor, sample: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        shift, scale = self.modulation(sample, tokens)
        return self.linear(modulate(self.norm(x), shift, scale))


class OutputRefine(nn.Module):
    """Three 3×3 convolutions over the unpatchified prediction and x_t, the middle one modulated by the
    per-sample conditioning (timestep, command, trajectory), added to the prediction. The last one starts
    at zero, so a model grown with this head predicts exactly what it did before."""

    def __init__(self, channels: int, width: int, hidden: int = 64) -> None:
        super().__init__()
        self.inputs = nn.Conv2d(2 * channels, hidden, 3, padding=1)
        self.modulation = nn.Linear(width, 2 * hidden)
        self.middle = nn.Conv2d(hidden, hidden, 3, padding=1)
        self.out = nn.Conv2d(hidden, channels, 3, padding=1)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, prediction: torch.Tensor, x_t: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        """prediction, x_t (B, C, H, W) with padding cells at zero; sample (B, W)."""
        scale, shift = self.modulation(sample)[:, :, None, None].chunk(2, dim=1)
        hidden = F.silu(self.inputs(torch.cat([prediction, x_t], dim=1)))
        hidden = F.silu(modulate(self.middle(hidden), shift, scale))
        return prediction + self.out(hidden)


class HexPlaneDiT(nn.Module):
    """ε-prediction on the padded rollout: (x_t (B, C, H, W), t (B,), DiTConditions) → (B, C, H, W)."""

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        self.config = config
        c, p, w = config.latent_channels, config.patch, config.width
        height, width = rollout_shape(config.latent_sizes)
        self.grid = (height // p, width // p)
        pad = padding_mask(config.latent_sizes)
        patch_pad = pad.view(self.grid[0], p, self.grid[1], p).permute(0, 2, 1, 3).reshape(-1, p * p).all(dim=1)
        self.register_buffer("keep", torch.nonzero(~patch_pad).squeeze(1), persistent=False)
        self.register_buffer("cell_padding", pad, persistent=False)
        self.register_buffer("position", sincos_2d(*self.grid, w)[self.keep], persistent=False)
        self.patchify = Patchify(c, w, p)
        self.timestep = TimestepEmbedder(w)
        self.command = CommandEmbedder(w, config.num_commands)
        self.trajectory = TrajectoryEmbedder(w, config.frames, config.extent)
        self.layout = LayoutEmbedder(w, config.num_classes, config.layout_hidden, p, config.latent_sizes)
        self.vehicles = LayoutEmbedder(w, 1, config.layout_hidden, p, config.latent_sizes)
        self.earlier = EarlierClipEmbedder(w, c, p)
        self.trajectory_map = None
        if config.trajectory_map:
            self.trajectory_map = LayoutEmbedder(w, 1, config.layout_hidden, p, config.latent_sizes, silent=True)
        self.token_code = nn.Sequential(nn.SiLU(), nn.Linear(w, config.token_rank))
        self.condition_input = None
        if config.condition_input:
            self.condition_input = nn.Linear(w, w)
            nn.init.zeros_(self.condition_input.weight)  # starts as a model without this path
            nn.init.zeros_(self.condition_input.bias)
        self.blocks = nn.ModuleList([DiTBlock(w, config.heads, config.mlp_ratio, config.token_rank) for _ in range(config.depth)])
        self.final = FinalLayer(w, p, c, config.token_rank)
        self.output_refine = OutputRefine(c, w) if config.output_refine else None

    def encode_conditions(self, conditions: DiTConditions | None, batch: int) -> ConditionCode:
        """Everything of c but the timestep; compute once, reuse for every sampling step."""
        conditions = conditions or DiTConditions()
        sample = self.command(conditions.command, conditions.command_present, batch)
        sample = sample + self.trajectory(conditions.trajectory, conditions.trajectory_present, batch)
        layout = None if conditions.layout is None else conditions.layout[:, :, None]  # (B, K, 1, X, Y)
        vehicles = None if conditions.vehicles is None else conditions.vehicles[:, None]  # (B, 1, T, X, Y)
        tokens = self.layout(layout, conditions.layout_present, batch, self.keep)
        tokens = tokens + self.vehicles(vehicles, conditions.vehicles_present, batch, self.keep)
        tokens = tokens + self.earlier(conditions.earlier, conditions.earlier_present, batch, self.keep)
        if self.trajectory_map is not None:
            footprints = None if conditions.trajectory is None else ego_footprints(
                conditions.trajectory, self.config.latent_sizes[1:3], self.config.extent, self.config.car)
            tokens = tokens + self.trajectory_map(footprints, conditions.trajectory_present, batch, self.keep)
        inputs = None if self.condition_input is None else self.condition_input(tokens)
        return ConditionCode(sample, self.token_code(tokens), inputs)

    @torch.no_grad()
    def forget_token_conditions(self) -> None:
        """Fold what the absent per-token conditions (layout, vehicles, earlier clip, ego footprints)
        contribute to every modulation into its bias, and zero the per-token weights: the model computes
        exactly what it did with those conditions absent, and ignores them when present until it learns
        them again."""
        absent = self.encode_conditions(DiTConditions(), 1)
        for modulation in [*(block.modulation for block in self.blocks), self.final.modulation]:
            modulation.from_sample.bias += modulation.from_tokens(absent.tokens[0, 0])
            modulation.from_tokens.weight.zero_()
        if self.condition_input is not None:
            self.patchify.bias += absent.inputs[0, 0]
            self.condition_input.weight.zero_()
            self.condition_input.bias.zero_()

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, conditions: DiTConditions | ConditionCode | None = None) -> torch.Tensor:
        expected = (self.config.latent_channels, *rollout_shape(self.config.latent_sizes))
        if tuple(x_t.shape[1:]) != expected:
            raise ValueError(f"x_t must be (B, {', '.join(map(str, expected))}), got {tuple(x_t.shape)}")
        code = conditions if isinstance(conditions, ConditionCode) else self.encode_conditions(conditions, x_t.shape[0])
        sample = F.silu(self.timestep(t) + code.sample)
        tokens = self.patchify(x_t).flatten(2).transpose(1, 2)[:, self.keep] + self.position  # (B, N, W)
        if code.inputs is not None:
            tokens = tokens + code.inputs
        for block in self.blocks:
            tokens = block(tokens, sample, code.tokens)
        prediction = self.unpatchify(self.final(tokens, sample, code.tokens))
        if self.output_refine is None:
            return prediction
        refined = self.output_refine(prediction, x_t.masked_fill(self.cell_padding, 0.0), sample)
        return refined.masked_fill(self.cell_padding, 0.0)

    def unpatchify(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N_kept, p·p·C) → (B, C, H, W), zeros on dropped patches and padding cells."""
        batch = tokens.shape[0]
        p, channels = self.config.patch, self.config.latent_channels
        full = tokens.new_zeros(batch, self.grid[0] * self.grid[1], tokens.shape[2])
        full[:, self.keep] = tokens
        full = full.view(batch, *self.grid, p, p, channels).permute(0, 5, 1, 3, 2, 4)
        out = full.reshape(batch, channels, self.grid[0] * p, self.grid[1] * p)
        return out.masked_fill(self.cell_padding, 0.0)
