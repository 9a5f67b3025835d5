"""Frozen configuration dataclasses with named presets; an unknown override key is an error.

Each model is built from its own config (never from a whole run's), and its checkpoint stores that
config so the bundle rebuilds the model by itself (`core.checkpoint`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from core.data.scenario import EGO_LENGTH, EGO_WIDTH
from core.types import GridSpec, InputError


def grid_for(frames: int, cells: tuple[int, int, int]) -> GridSpec:
    """The scene grid of a model: the preset with these cells, or (tiny test configs) a cpu-resolution grid."""
    for name in ("cpu", "carlasc"):
        preset = GridSpec.preset(name)
        if preset.cells == tuple(cells):
            return preset.with_frames(frames)
    cpu = GridSpec.preset("cpu")
    origin = (-cells[0] * cpu.voxel_size[0] / 2, -cells[1] * cpu.voxel_size[1] / 2, cpu.origin[2])
    return GridSpec(frames, tuple(cells), cpu.voxel_size, origin)


@dataclass(frozen=True)
class VAEConfig:
    """HexPlane VAE (DESIGN §2). Grid (T, X, Y, Z) = (frames, *cells); `downsample` is per axis (t, x, y, z).

    projection: "attention" (the learned Projection Module) or "average" (the paper's baseline).
    projection_scores: attention only: add scores linear in their own parameters (per collapsed position,
                and a fixed query's reading of each token); an ablation variant, no better at 400 steps.
    decoder:    "expansion" (Expansion & Squeeze: dense planes product) or "query" (per-voxel MLP baseline).
    """

    num_classes: int = 12
    frames: int = 16
    cells: tuple[int, int, int] = (64, 64, 8)
    downsample: tuple[int, int, int, int] = (2, 1, 1, 2)
    latent_channels: int = 10
    embed_channels: int = 8
    stem_channels: int = 16
    encoder_channels: int = 32
    decoder_channels: int = 32
    head_channels: int = 16
    attention_heads: int = 4
    projection: str = "attention"
    projection_scores: bool = False
    decoder: str = "expansion"
    fusion: str = "one-plus"
    query_hidden: int = 128

    def __post_init__(self) -> None:
        object.__setattr__(self, "cells", tuple(int(c) for c in self.cells))
        object.__setattr__(self, "downsample", tuple(int(d) for d in self.downsample))
        if self.projection not in ("attention", "average"):
            raise InputError(f"projection must be 'attention' or 'average', got {self.projection!r}")
        if self.projection_scores and self.projection != "attention":
            raise InputError("projection_scores needs projection='attention'")
        if self.fusion not in ("one-plus", "plain"):
            raise InputError(f"fusion must be 'one-plus' or 'plain', got {self.fusion!r}")
        if self.decoder not in ("expansion", "query"):
            raise InputError(f"decoder must be 'expansion' or 'query', got {self.decoder!r}")
        sizes = (self.frames, *self.cells)
        if len(self.downsample) != 4 or any(s % d for s, d in zip(sizes, self.downsample)):
            raise InputError(f"downsample {self.downsample} must divide the grid (T, X, Y, Z) = {sizes}")
        if self.encoder_channels % self.attention_heads:
            raise InputError(f"encoder_channels {self.encoder_channels} must divide by {self.attention_heads} heads")

    @property
    def latent_sizes(self) -> tuple[int, int, int, int]:
        """(T', X', Y', Z') of the HexPlane."""
        return tuple(s // d for s, d in zip((self.frames, *self.cells), self.downsample))

    def grid(self) -> GridSpec:
        return grid_for(self.frames, self.cells)

    @property
    def compression_ratio(self) -> float:
        """T·X·Y·Z / (C · Σ plane areas), the paper's definition."""
        t, x, y, z = self.latent_sizes
        areas = x * y + x * z + y * z + t * x + t * y + t * z
        return self.frames * self.cells[0] * self.cells[1] * self.cells[2] / (self.latent_channels * areas)


VAE_PRESETS: dict[str, VAEConfig] = {
    # The shipped model: full x/y resolution keeps 1-voxel objects (poles, pedestrians) in the latent.
    "cpu": VAEConfig(),
    "carlasc": VAEConfig(cells=(128, 128, 8), downsample=(2, 2, 2, 2), latent_channels=16),
    # For tests: a few thousand parameters on a tiny grid.
    "tiny": VAEConfig(frames=4, cells=(8, 8, 4), downsample=(2, 1, 1, 2), latent_channels=4, embed_channels=4,
                      stem_channels=4, encoder_channels=8, decoder_channels=8, head_channels=4, attention_heads=2,
                      query_hidden=16),
}


@dataclass(frozen=True)
class DiTConfig:
    """adaLN-Zero DiT over patches of the padded rollout of a VAE's HexPlane (DESIGN §2).

    `latent_sizes` (T', X', Y', Z') and `latent_channels` must match the VAE it generates for;
    `frames` and `extent` describe the scene grid (trajectory length, metres across).
    """

    latent_channels: int = 10
    latent_sizes: tuple[int, int, int, int] = (8, 64, 64, 4)
    frames: int = 16
    extent: float = 51.2
    num_classes: int = 12
    patch: int = 4
    width: int = 256
    depth: int = 8
    heads: int = 4
    mlp_ratio: float = 4.0
    layout_hidden: int = 16
    token_rank: int = 32
    # Also add the per-token conditions (layout, vehicles, earlier clip) to the input tokens, through a
    # zero-initialised linear map: a direct path for spatially aligned conditions besides adaLN's rank-r code.
    condition_input: bool = False
    # Also draw the trajectory as the ego car's footprint per frame (a `car` of length × width metres) on
    # the bird's-eye grid, embedded per token like the layout: where the car must be, at each time and place.
    trajectory_map: bool = False
    car: tuple[float, float] = (EGO_LENGTH, EGO_WIDTH)
    # Also refine the prediction with a small convolutional head over the whole rollout, fed the
    # unpatchified prediction and x_t (zero-initialised): each cell sees its neighbours across patch
    # boundaries, where the final linear layer draws every p×p patch from its own token alone. Measured and
    # not kept: it did not change the cars (checkpoints README, step 27).
    output_refine: bool = False
    num_commands: int = 4
    # Training only: each condition is dropped with condition_dropout, the vehicle occupancy (rarely given)
    # with vehicles_dropout, all at once with joint_dropout (core.train.train_dit).
    condition_dropout: float = 0.3
    vehicles_dropout: float = 0.5
    joint_dropout: float = 0.1
    # Per-channel statistics of the VAE latents it was trained on: x = (μ - mean) / std.
    latent_mean: tuple[float, ...] = ()
    latent_std: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "latent_sizes", tuple(int(s) for s in self.latent_sizes))
        object.__setattr__(self, "car", tuple(float(v) for v in self.car))
        object.__setattr__(self, "latent_mean", tuple(float(v) for v in self.latent_mean))
        object.__setattr__(self, "latent_std", tuple(float(v) for v in self.latent_std))
        if self.latent_mean and len(self.latent_mean) != self.latent_channels or len(self.latent_std) != len(self.latent_mean):
            raise InputError(f"latent_mean / latent_std need {self.latent_channels} values each")
        t, x, y, z = self.latent_sizes
        height, width = x + t + z, y + z + t
        if height % self.patch or width % self.patch:
            raise InputError(f"patch {self.patch} must divide the rollout {height}×{width}")
        if self.width % self.heads:
            raise InputError(f"width {self.width} must divide by {self.heads} heads")


DIT_PRESETS: dict[str, DiTConfig] = {
    # Shipped: sized so 25 guided steps plus decoding stay well under 10 s on 2 CPU cores.
    "cpu": DiTConfig(condition_input=True, trajectory_map=True),
    # The paper's DiT-DC/2.
    "DiT-DC/2": DiTConfig(patch=2, width=384, depth=16, heads=8, condition_input=True, trajectory_map=True),
    "tiny": DiTConfig(latent_channels=4, latent_sizes=(2, 8, 8, 2), frames=4, extent=6.4, patch=2, width=32,
                      depth=2, heads=2, layout_hidden=8, token_rank=8, condition_input=True, trajectory_map=True),
}


def dit_preset(name: str, **overrides: Any) -> DiTConfig:
    if name not in DIT_PRESETS:
        raise InputError(f"unknown DiT preset {name!r}; expected one of: {', '.join(DIT_PRESETS)}")
    return with_overrides(DIT_PRESETS[name], overrides)


def with_overrides(config: Any, overrides: dict[str, Any]) -> Any:
    """A copy of a config dataclass with some fields replaced; unknown keys are an error."""
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise InputError(f"unknown {type(config).__name__} option(s) {unknown}; expected some of {sorted(names)}")
    return dataclasses.replace(config, **overrides)


def vae_preset(name: str, **overrides: Any) -> VAEConfig:
    if name not in VAE_PRESETS:
        raise InputError(f"unknown VAE preset {name!r}; expected one of: {', '.join(VAE_PRESETS)}")
    return with_overrides(VAE_PRESETS[name], overrides)


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def config_from_dict(cls: type, data: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(f"unknown {cls.__name__} option(s) {unknown} in stored config")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


@dataclass(frozen=True)
class SceneFeatureConfig:
    """The evaluator network of `core.eval.features`: a 3D branch over (T, X, Y) with Z folded into the
    channels, and a 2D branch over each frame's bird's-eye map; both end in `features` pooled values."""

    num_classes: int = 12
    num_commands: int = 4
    frames: int = 16
    cells: tuple[int, int, int] = (64, 64, 8)
    channels: tuple[int, ...] = (32, 64, 96, 128)
    features: int = 128

    def __post_init__(self) -> None:
        object.__setattr__(self, "cells", tuple(int(c) for c in self.cells))
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.channels[-1] != self.features:
            raise InputError(f"the last of channels {self.channels} must equal features {self.features}")


FEATURE_PRESETS: dict[str, SceneFeatureConfig] = {
    "cpu": SceneFeatureConfig(),
    "tiny": SceneFeatureConfig(frames=4, cells=(8, 8, 4), channels=(8, 16), features=16),
}
