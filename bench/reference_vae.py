"""The DynamicCity reference release's HexPlane VAE design, re-implemented for side-by-side benchmarks only.

Written from reading the authors' release (GitHub 3DTopia/DynamicCity, package `dynamic_city/`), not copied
from it and not depending on it: `vae/encoder_blocks.py` (VoxelEncoder, Transformer, PlaneDownsampler),
`vae/encoder.py` (TrEncoder), `vae/vae.py` (per-plane μ / log σ² head), `vae/decoder_blocks.py`
(HexplaneConvBlock, PlaneUpsampler, VoxelDecoderBlock), `vae/decoder.py` (ConvDecoder, Hadamard product),
`utils/vae_train_utils.py` (channel-wise plane packing, sinusoidal positional encoding),
`utils/loss_utils.py` + `utils/lovasz.py` (loss) and `conf/vae/model/vae.yaml` (default widths). It
reproduces the same layer types, widths, depths and computation pattern at our grid sizes:

- encoder: class embedding (C = 16) → two 16-channel 3D conv encoders per frame at full resolution
  (replicate padding, InstanceNorm, LeakyReLU 0.1, one stride-2 conv then a residual block at half x/y/z);
  the second one also sees a one-hot frame index;
- Projection Module: a 2-layer pre-norm transformer (width 16, 2 heads, MLP 32, dropout 0.1) per plane over
  the collapsed axes, with a learned token and positional encoding; first `xyz` (collapsing t), then xy, xz,
  yz from it, and tx, ty, tz straight from the second encoder's 4D volume; 1×1 conv-tanh-1×1 conv after;
  stride-2 convs halve t on the t-planes;
- decoder: grouped 3×3 plane convs 16 → 64 (three spatial and three temporal planes packed channel-wise),
  per-plane upsamplers (t back to full), the six planes broadcast and multiplied into a dense
  (T, X/2, Y/2, Z/2, 64) volume, 1×1 conv to 128, a residual pair of 3×3×3 convs at 128, a residual pair of
  1×1 convs, a ×2 transposed conv to 32 channels, 24 sinusoidal position channels, 1×1 convs to 12 logits;
- loss: class-weighted CE (cube root of inverse frequency) + Lovász-softmax over *all* voxels + 0.0015·KL.

Where the CPU cannot do what the GPU release did, the choice that keeps the design's cost is taken:
attention runs through PyTorch's fused kernel without attention-probability dropout (the release uses
flash-attn with dropout; no fused CPU kernel supports dropout, and the unfused path would materialise the
full (1 + 32·32)² attention maps of the tz plane, which the release never does). The release trains with
CUDA autocast, which is inactive on the CPU, so this runs in fp32 as the release would on a CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

PLANES = ("xy", "xz", "yz", "tx", "ty", "tz")
# Where each plane's two axes sit in the dense (B, T, X, Y, Z, C) volume of the Hadamard product.
PLANE_AXES = {"xy": (2, 3), "xz": (2, 4), "yz": (3, 4), "tx": (1, 2), "ty": (1, 3), "tz": (1, 4)}
KL_WEIGHT = 0.0015


@dataclass(frozen=True)
class ReferenceVAEConfig:
    """The release's defaults (`conf/vae/model/vae.yaml`) on a (frames, *cells) grid; ×2 downsampling of t, x, y, z."""

    num_classes: int = 12
    frames: int = 16
    cells: tuple[int, int, int] = (64, 64, 8)
    latent_channels: int = 16
    query_channels: int = 64
    hidden_low_res: int = 128
    hidden_high_res: int = 32
    transformer_depth: int = 2
    transformer_heads: int = 2
    transformer_mlp: int = 32
    dropout: float = 0.1
    position_frequencies: int = 3

    def __post_init__(self) -> None:
        sizes = (self.frames, *self.cells)
        if any(s % 2 for s in sizes):
            raise ValueError(f"every axis of (T, X, Y, Z) = {sizes} must be even (×2 downsampling)")

    @property
    def half_cells(self) -> tuple[int, int, int]:
        return tuple(c // 2 for c in self.cells)


def _conv3(in_channels: int, out_channels: int) -> nn.Conv3d:
    return nn.Conv3d(in_channels, out_channels, 3, padding=1, padding_mode="replicate")


def _residual_pair(channels: int) -> nn.Sequential:
    return nn.Sequential(
        _conv3(channels, channels), nn.InstanceNorm3d(channels), nn.LeakyReLU(0.1, True),
        _conv3(channels, channels), nn.InstanceNorm3d(channels),
    )


class VoxelEncoder(nn.Module):
    """Per-frame 3D convs: (N, in, X, Y, Z) → (N, C, X/2, Y/2, Z/2)."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.conv_in = _conv3(in_channels, channels)
        self.block = _residual_pair(channels)
        self.down = nn.Sequential(nn.Conv3d(channels, channels, 2, stride=2), nn.InstanceNorm3d(channels))
        self.block_low = _residual_pair(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(x)
        x = x + self.block(x)
        x = self.down(x)
        return x + self.block_low(x)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = rearrange(self.qkv(x), "n r (three h d) -> three n h r d", three=3, h=self.heads)
        out = F.scaled_dot_product_attention(q, k, v)  # fused kernel; see the module docstring on dropout
        return self.proj(rearrange(out, "n h r d -> n r (h d)"))


class Transformer(nn.Module):
    """Pre-norm transformer over (N, R, C) tokens; GELU MLP with dropout (timm's Mlp)."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_dim: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.ModuleList([
            nn.Sequential(nn.LayerNorm(dim), Attention(dim, heads, dropout)),
            nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout),
                          nn.Linear(mlp_dim, dim), nn.Dropout(dropout)),
        ]) for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for attend, feed_forward in self.layers:
            x = x + attend(x)
            x = x + feed_forward(x)
        return x


class PlaneProjection(nn.Module):
    """One plane of the Projection Module: a transformer over the collapsed axes of a feature volume.

    `source` names the volume's axes after (B, C), `kept` the plane's; the rest are collapsed into tokens.
    """

    def __init__(self, config: ReferenceVAEConfig, source: str, kept: str, sizes: dict[str, int]) -> None:
        super().__init__()
        channels = config.latent_channels
        self.source, self.kept = source, kept
        self.collapsed = "".join(a for a in source if a not in kept)
        self.sizes = {a: sizes[a] for a in kept}
        positions = math.prod(sizes[a] for a in self.collapsed)
        self.token = nn.Parameter(torch.randn(1, 1, channels))
        self.position = nn.Parameter(torch.randn(1, positions + 1, channels))
        self.transformer = Transformer(channels, config.transformer_depth, config.transformer_heads,
                                       config.transformer_mlp, config.dropout)
        conv = {2: nn.Conv2d, 3: nn.Conv3d}[len(kept)]
        self.out = nn.Sequential(conv(channels, channels, 1), nn.Tanh(), conv(channels, channels, 1))

    def forward(self, volume: torch.Tensor) -> torch.Tensor:
        """(B, C, *source axes) → (B, C, *kept axes)."""
        source, kept, collapsed = " ".join(self.source), " ".join(self.kept), " ".join(self.collapsed)
        tokens = rearrange(volume, f"b c {source} -> (b {kept}) ({collapsed}) c")
        token = self.token.expand(tokens.shape[0], -1, -1)
        tokens = torch.cat([tokens, token], dim=1) + self.position  # (N, R + 1, C)
        # The release reads out position 0 (the first collapsed cell), not the appended token; same cost.
        pooled = self.transformer(tokens)[:, 0]
        return self.out(rearrange(pooled, f"(b {kept}) c -> b c {kept}", **self.sizes))


class ReferenceEncoder(nn.Module):
    """(B, T, X, Y, Z) class ids → six planes (B, C, ·, ·) at T/2, X/2, Y/2, Z/2."""

    def __init__(self, config: ReferenceVAEConfig) -> None:
        super().__init__()
        channels = config.latent_channels
        x, y, z = config.half_cells
        sizes = dict(t=config.frames, x=x, y=y, z=z)
        self.frames = config.frames
        self.embedding = nn.Embedding(config.num_classes, channels)
        self.voxel_encoder = VoxelEncoder(channels, channels)
        self.time_encoder = VoxelEncoder(channels + config.frames, channels)
        self.project = nn.ModuleDict({"xyz": PlaneProjection(config, "txyz", "xyz", sizes)})
        self.project.update({n: PlaneProjection(config, "xyz", n, sizes) for n in ("xy", "xz", "yz")})
        self.project.update({n: PlaneProjection(config, "txyz", n, sizes) for n in ("tx", "ty", "tz")})
        halve = {n: nn.Conv2d(channels, channels, (2, 1), stride=(2, 1)) for n in ("tx", "ty", "tz")}
        self.halve_time = nn.ModuleDict(halve)

    def per_frame(self, embedded: torch.Tensor, encoder: VoxelEncoder, one_hot_time: bool) -> torch.Tensor:
        """(B, T, X, Y, Z, C) → (B, C, T, X/2, Y/2, Z/2)."""
        batch, frames, x, y, z, _ = embedded.shape
        volume = rearrange(embedded, "b t x y z c -> b t c x y z")
        if one_hot_time:
            frame_ids = torch.eye(frames, device=volume.device)[None, :, :, None, None, None]
            volume = torch.cat([volume, frame_ids.expand(batch, frames, frames, x, y, z)], dim=2)
        features = encoder(rearrange(volume, "b t c x y z -> (b t) c x y z"))
        return rearrange(features, "(b t) c x y z -> b c t x y z", b=batch)

    def forward(self, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        embedded = self.embedding(labels)  # (B, T, X, Y, Z, C)
        temporal = self.per_frame(embedded, self.time_encoder, one_hot_time=True)
        spatial = self.per_frame(embedded, self.voxel_encoder, one_hot_time=False)
        xyz = self.project["xyz"](spatial)  # (B, C, X', Y', Z')
        planes = {n: self.project[n](xyz) for n in ("xy", "xz", "yz")}
        planes.update({n: self.halve_time[n](self.project[n](temporal)) for n in ("tx", "ty", "tz")})
        return planes


def pack_planes(planes: list[torch.Tensor]) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """Three planes (B, C, a, b) zero-padded to a common size and stacked channel-wise: (B, 3C, A, B')."""
    height = max(p.shape[2] for p in planes)
    width = max(p.shape[3] for p in planes)
    padded = [F.pad(p, (0, width - p.shape[3], 0, height - p.shape[2])) for p in planes]
    return torch.cat(padded, dim=1), [tuple(p.shape[2:]) for p in planes]


def unpack_planes(packed: torch.Tensor, sizes: list[tuple[int, int]]) -> list[torch.Tensor]:
    return [chunk[:, :, :a, :b] for chunk, (a, b) in zip(packed.chunk(3, dim=1), sizes)]


class HexPlaneConvBlock(nn.Module):
    """Residual grouped 3×3 convs on the spatial and the temporal plane triples, InstanceNorm per plane."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()

        def grouped(a: int, b: int, kernel: int) -> nn.Conv2d:
            return nn.Conv2d(3 * a, 3 * b, kernel, padding=kernel // 2, groups=3)

        self.conv_in = nn.ModuleList([grouped(in_channels, out_channels, 3) for _ in range(2)])
        self.norms = nn.ModuleList([nn.InstanceNorm2d(out_channels, eps=1e-6, affine=True) for _ in PLANES])
        self.conv_out = nn.ModuleList([nn.Sequential(nn.SiLU(), grouped(out_channels, out_channels, 3)) for _ in range(2)])
        self.shortcut = nn.ModuleList([grouped(in_channels, out_channels, 1) for _ in range(2)])
        for conv in self.conv_out:
            nn.init.zeros_(conv[1].weight)
            nn.init.zeros_(conv[1].bias)

    def forward(self, planes: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {}
        for group, names in enumerate((PLANES[:3], PLANES[3:])):
            packed, sizes = pack_planes([planes[n] for n in names])
            hidden = unpack_planes(self.conv_in[group](packed), sizes)
            hidden = [self.norms[3 * group + i](h) for i, h in enumerate(hidden)]
            hidden = self.conv_out[group](pack_planes(hidden)[0]) + self.shortcut[group](packed)
            out.update(zip(names, unpack_planes(hidden, sizes)))
        return out


class PlaneUpsampler(nn.Module):
    def __init__(self, channels: int, factors: tuple[int, int]) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ConvTranspose2d(channels, channels, factors, stride=factors), nn.InstanceNorm2d(channels),
            nn.LeakyReLU(0.1, True), nn.Conv2d(channels, channels, 3, padding=1), nn.InstanceNorm2d(channels),
            nn.LeakyReLU(0.1, True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


def positional_encoding(frames: int, cells: tuple[int, int, int], frequencies: int, device: torch.device) -> torch.Tensor:
    """(T, X, Y, Z, 4·2·frequencies) sines and cosines of the integer voxel coordinates."""
    axes = [torch.arange(n, dtype=torch.float32, device=device) for n in (frames, *cells)]
    coords = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)  # (T, X, Y, Z, 4)
    waves = [f(2.0 ** k * coords) for k in range(frequencies) for f in (torch.sin, torch.cos)]
    return torch.cat(waves, dim=-1)


class VoxelDecoder(nn.Module):
    """(B, T, X/2, Y/2, Z/2, query) product volume → (B, T, X, Y, Z, classes) logits, per-frame 3D convs."""

    def __init__(self, config: ReferenceVAEConfig) -> None:
        super().__init__()
        hidden, high, classes = config.hidden_low_res, config.hidden_high_res, config.num_classes
        self.frequencies = config.position_frequencies

        def normed(kernel: int) -> list[nn.Module]:
            conv = nn.Conv3d(hidden, hidden, kernel, padding=kernel // 2)
            return [conv, nn.InstanceNorm3d(hidden), nn.LeakyReLU(0.1, True)]

        self.conv_in = nn.Sequential(nn.Conv3d(config.query_channels, hidden, 1), nn.LeakyReLU(0.1, True))
        self.blocks = nn.ModuleList([nn.Sequential(*normed(3), *normed(3)), nn.Sequential(*normed(1), *normed(1))])
        self.upsample = nn.ConvTranspose3d(hidden, high, 2, stride=2)
        self.to_logits = nn.Sequential(
            nn.Conv3d(high + 8 * self.frequencies, classes, 1), nn.InstanceNorm3d(classes), nn.LeakyReLU(0.1, True),
            nn.Conv3d(classes, classes, 1),
        )

    def forward(self, volume: torch.Tensor) -> torch.Tensor:
        batch, frames = volume.shape[:2]
        x = self.conv_in(rearrange(volume, "b t x y z c -> (b t) c x y z"))
        for block in self.blocks:
            x = x + block(x)
        x = rearrange(self.upsample(x), "(b t) c x y z -> b t x y z c", b=batch)
        position = positional_encoding(frames, x.shape[2:5], self.frequencies, x.device)
        x = torch.cat([x, position.expand(batch, *position.shape)], dim=-1)
        logits = self.to_logits(rearrange(x, "b t x y z c -> (b t) c x y z"))
        return rearrange(logits, "(b t) k x y z -> b t x y z k", b=batch)


class ReferenceDecoder(nn.Module):
    def __init__(self, config: ReferenceVAEConfig) -> None:
        super().__init__()
        query = config.query_channels
        self.conv_block = HexPlaneConvBlock(config.latent_channels, query)
        self.upsample = nn.ModuleDict({n: PlaneUpsampler(query, (2, 1) if n[0] == "t" else (1, 1)) for n in PLANES})
        self.voxel_decoder = VoxelDecoder(config)

    def forward(self, planes: dict[str, torch.Tensor]) -> torch.Tensor:
        planes = self.conv_block(planes)
        volume = None
        for name in PLANES:
            plane = self.upsample[name](planes[name])  # (B, Q, a, b)
            first, second = PLANE_AXES[name]
            shape = [plane.shape[0], 1, 1, 1, 1, plane.shape[1]]
            shape[first], shape[second] = plane.shape[2], plane.shape[3]
            plane = plane.permute(0, 2, 3, 1).reshape(shape)  # broadcastable (B, T, X', Y', Z', Q)
            volume = plane if volume is None else volume * plane  # the Hadamard product
        return self.voxel_decoder(volume)


class ReferenceHexPlaneVAE(nn.Module):
    """labels (B, T, X, Y, Z) → logits (B, T, X, Y, Z, classes), and the planes' μ and log σ²."""

    def __init__(self, config: ReferenceVAEConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = ReferenceEncoder(config)
        channels = config.latent_channels
        self.to_moments = nn.ModuleDict({n: nn.Linear(channels, 2 * channels) for n in PLANES})
        self.decoder = ReferenceDecoder(config)

    def forward(self, labels: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        planes = self.encoder(labels)
        means, log_vars, latent = [], [], {}
        for name, plane in planes.items():
            moments = self.to_moments[name](plane.movedim(1, -1)).movedim(-1, 1)
            mean, log_var = moments.chunk(2, dim=1)
            means.append(mean)
            log_vars.append(log_var)
            latent[name] = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var) if self.training else mean
        return self.decoder(latent), means, log_vars


def reference_class_weights(counts: np.ndarray) -> torch.Tensor:
    """The release's CE weights: (max share / share)^(1/3)."""
    share = np.asarray(counts, dtype=np.float64) / (np.sum(counts) + 1e-6)
    return torch.tensor(np.power(share.max() / (share + 1e-6), 1 / 3.0), dtype=torch.float32)


def lovasz_softmax_all(probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Lovász-softmax over every voxel, mean over the classes present; probabilities (N, K), labels (N,)."""
    losses = []
    for k in range(probabilities.shape[1]):
        foreground = (labels == k).float()
        if foreground.sum() == 0:
            continue
        errors, order = torch.sort((foreground - probabilities[:, k]).abs(), descending=True)
        sorted_foreground = foreground[order]
        total = sorted_foreground.sum()
        jaccard = 1.0 - (total - sorted_foreground.cumsum(0)) / (total + (1.0 - sorted_foreground).cumsum(0))
        jaccard[1:] = jaccard[1:] - jaccard[:-1]
        losses.append(torch.dot(errors, jaccard))
    return torch.stack(losses).mean()


def reference_loss(logits: torch.Tensor, labels: torch.Tensor, means: list[torch.Tensor], log_vars: list[torch.Tensor],
                   *, weights: torch.Tensor) -> torch.Tensor:
    """CE + Lovász (all voxels) + 0.0015 · KL (summed, divided by the latent size), as the release trains."""
    cross_entropy = F.cross_entropy(logits.permute(0, 5, 1, 2, 3, 4), labels, weight=weights)
    flat = logits.reshape(-1, logits.shape[-1])
    lovasz = lovasz_softmax_all(F.softmax(flat, dim=-1), labels.reshape(-1))
    kl = sum((-0.5 * (1 + v - m.pow(2) - v.exp())).sum() for m, v in zip(means, log_vars))
    kl = kl / sum(m.numel() for m in means)
    return cross_entropy + lovasz + KL_WEIGHT * kl
