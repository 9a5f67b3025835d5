"""HexPlane VAE (DynamicCity §3.1): 4D occupancy ↔ six 2D feature planes.

Encoder: class embedding, per-frame 3D convs (downsampling x, y, z by the config's factors), a learned
frame-index embedding, temporal downsampling by merging neighbouring frames, then the Projection Module
onto the six planes and a Gaussian head (μ, log σ²) per plane.

Decoder, **Expansion & Squeeze**: per-plane conv blocks, then all six planes broadcast to the dense
(T', X', Y', Z') grid and multiplied elementwise (one dense volume, in parallel), a 3D conv head, a
transposed conv back to full resolution (kernel = stride = the downsampling factors), per-axis
positional encodings and 1×1 convs to class logits. The baseline (`decoder="query"`) instead queries
every voxel: it samples each plane at the voxel's coordinates and decodes the concatenation with an MLP.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from core.config import VAEConfig
from core.models.blocks import ProjectionModule, ResBlock2d, ResBlock3d
from core.models.hexplane import PLANES, HexPlane


class Encoder(nn.Module):
    """(B, T, X, Y, Z) class ids → (B, C, T', X', Y', Z') feature volume."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        dt, dx, dy, dz = config.downsample
        channels = config.encoder_channels
        self.config = config
        self.embed = nn.Embedding(config.num_classes, config.embed_channels)
        self.stem = nn.Conv3d(config.embed_channels, config.stem_channels, 3, padding=1)
        self.down = nn.Conv3d(config.stem_channels, channels, 3, stride=(dx, dy, dz), padding=1)
        self.block = ResBlock3d(channels)
        self.frame_embedding = nn.Parameter(torch.zeros(config.frames, channels))
        self.merge_frames = nn.Linear(dt * channels, channels)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        batch, frames = labels.shape[:2]
        x = rearrange(self.embed(labels), "b t x y z e -> (b t) e x y z")
        x = self.block(self.down(F.silu(self.stem(x))))  # (B·T, C, X', Y', Z')
        x = rearrange(x, "(b t) c x y z -> b t x y z c", b=batch)
        x = x + self.frame_embedding[:frames, None, None, None]
        x = rearrange(x, "b (t k) x y z c -> b t x y z (k c)", k=self.config.downsample[0])
        return rearrange(self.merge_frames(x), "b t x y z c -> b c t x y z")


class ExpansionSqueezeDecoder(nn.Module):
    """HexPlane → (B, num_classes, T, X, Y, Z) logits, through one dense product volume."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        width, head = config.decoder_channels, config.head_channels
        self.config = config
        self.plane_in = nn.ModuleDict({n: nn.Conv2d(config.latent_channels, width, 3, padding=1) for n in PLANES})
        self.plane_block = nn.ModuleDict({n: ResBlock2d(width) for n in PLANES})
        self.head = ResBlock3d(width)
        dt, dx, dy, dz = config.downsample
        self.upsample = nn.ConvTranspose3d(width, dt * head, kernel_size=(dx, dy, dz), stride=(dx, dy, dz))
        t, (x, y, z) = config.frames, config.cells
        self.position = nn.ParameterList([nn.Parameter(torch.zeros(n, head)) for n in (t, x, y, z)])
        self.to_logits = nn.Sequential(nn.Conv3d(head, head, 1), nn.SiLU(), nn.Conv3d(head, config.num_classes, 1))

    def expand(self, hexplane: HexPlane) -> torch.Tensor:
        """Broadcast the six processed planes to (B, D, T', X', Y', Z') and multiply them."""
        p = {n: self.plane_block[n](self.plane_in[n](plane)) for n, plane in hexplane.planes().items()}
        if self.config.fusion == "one-plus":
            # Factors 1 + f: the product starts out as 1 + Σ f (every plane gets a gradient) and
            # grows multiplicative interactions as training goes, instead of a vanishing 6-fold product.
            p = {n: 1.0 + f for n, f in p.items()}
        return (
            p["xy"][:, :, None, :, :, None] * p["xz"][:, :, None, :, None, :] * p["yz"][:, :, None, None, :, :]
            * p["tx"][:, :, :, :, None, None] * p["ty"][:, :, :, None, :, None] * p["tz"][:, :, :, None, None, :]
        )

    def forward(self, hexplane: HexPlane) -> torch.Tensor:
        volume = self.expand(hexplane)
        batch = volume.shape[0]
        x = self.head(rearrange(volume, "b d t x y z -> (b t) d x y z"))
        x = self.upsample(F.silu(x))  # (B·T', dt·H, X, Y, Z)
        x = rearrange(x, "(b t) (k h) x y z -> b t x y z (k h)", b=batch, k=self.config.downsample[0])
        x = rearrange(x, "b t x y z (k h) -> b (t k) x y z h", k=self.config.downsample[0])
        t, px, py, pz = self.position
        x = x + (t[:, None, None, None] + px[:, None, None] + py[:, None] + pz).to(x.dtype)  # bf16 stays bf16
        x = rearrange(x, "b t x y z h -> (b t) h x y z")
        logits = self.to_logits(F.silu(x))
        return rearrange(logits, "(b t) k x y z -> b k t x y z", b=batch)


def _voxel_coordinates(size: int, device: torch.device) -> torch.Tensor:
    """Normalised [-1, 1] coordinates of `size` voxel centres (grid_sample's convention, corners excluded)."""
    return ((torch.arange(size, device=device) + 0.5) / size) * 2 - 1


class QueryDecoder(nn.Module):
    """Baseline: every voxel samples the six planes bilinearly and an MLP decodes the concatenation."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        width = config.decoder_channels
        self.config = config
        self.plane_in = nn.ModuleDict({n: nn.Conv2d(config.latent_channels, width, 3, padding=1) for n in PLANES})
        self.mlp = nn.Sequential(
            nn.Linear(6 * width, config.query_hidden), nn.SiLU(),
            nn.Linear(config.query_hidden, config.query_hidden), nn.SiLU(),
            nn.Linear(config.query_hidden, config.num_classes),
        )

    def forward(self, hexplane: HexPlane) -> torch.Tensor:
        c = self.config
        device = hexplane.xy.device
        coords = dict(zip("txyz", (_voxel_coordinates(s, device) for s in (c.frames, *c.cells))))
        grids = torch.meshgrid(coords["t"], coords["x"], coords["y"], coords["z"], indexing="ij")
        axis = dict(zip("txyz", grids))  # each (T, X, Y, Z)
        features = []
        for name, plane in hexplane.planes().items():
            processed = self.plane_in[name](plane)  # (B, D, A, A')
            # grid_sample takes (x = along the last axis, y = along the first)
            where = torch.stack([axis[name[1]], axis[name[0]]], dim=-1).reshape(1, -1, 1, 2)
            where = where.expand(plane.shape[0], -1, -1, -1)
            sampled = F.grid_sample(processed, where, align_corners=False)  # (B, D, N, 1)
            features.append(sampled[..., 0])
        logits = self.mlp(rearrange(torch.cat(features, dim=1), "b d n -> b n d"))
        return rearrange(logits, "b (t x y z) k -> b k t x y z", t=c.frames, x=c.cells[0], y=c.cells[1])


class HexPlaneVAE(nn.Module):
    """labels (B, T, X, Y, Z) → HexPlane latent (C channels) → logits (B, num_classes, T, X, Y, Z)."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.projection = ProjectionModule(config.encoder_channels, config.attention_heads, config.latent_sizes,
                                           config.projection, config.projection_scores)
        self.to_moments = nn.ModuleDict({n: nn.Conv2d(config.encoder_channels, 2 * config.latent_channels, 1) for n in PLANES})
        self.decoder = ExpansionSqueezeDecoder(config) if config.decoder == "expansion" else QueryDecoder(config)

    def encode(self, labels: torch.Tensor) -> tuple[HexPlane, HexPlane]:
        """(μ, log σ²) HexPlanes of a batch of scenes."""
        expected = (self.config.frames, *self.config.cells)
        if tuple(labels.shape[1:]) != expected:
            raise ValueError(f"labels must be (B, {', '.join(map(str, expected))}), got {tuple(labels.shape)}")
        planes = self.projection(self.encoder(labels))
        moments = {n: self.to_moments[n](planes[n]).chunk(2, dim=1) for n in PLANES}
        mean = HexPlane(**{n: m[0] for n, m in moments.items()})
        log_var = HexPlane(**{n: m[1].clamp(-20.0, 10.0) for n, m in moments.items()})
        return mean, log_var

    def decode(self, latent: HexPlane) -> torch.Tensor:
        return self.decoder(latent)

    def forward(self, labels: torch.Tensor, *, sample: bool = True, generator: torch.Generator | None = None,
                latent_noise: float = 0.0):
        """Logits, and the (μ, log σ²) HexPlanes for the KL term; samples z ~ q(z|x) when `sample`, then
        adds `with_latent_noise(z, latent_noise)` when that is above 0."""
        mean, log_var = self.encode(labels)
        latent = mean
        if sample:
            latent = HexPlane(**{
                n: m + torch.exp(0.5 * v) * torch.randn(m.shape, generator=generator, device=m.device, dtype=m.dtype)
                for (n, m), v in zip(mean.planes().items(), log_var.planes().values())
            })
        if latent_noise > 0:
            latent = with_latent_noise(latent, latent_noise, generator)
        return self.decode(latent), mean, log_var

    @torch.no_grad()
    def reconstruct(self, labels: torch.Tensor) -> torch.Tensor:
        """Class ids (B, T, X, Y, Z) decoded from μ."""
        mean, _ = self.encode(labels)
        return self.decode(mean).argmax(dim=1)


def with_latent_noise(latent: HexPlane, top: float, generator: torch.Generator | None = None) -> HexPlane:
    """`latent` plus Gaussian noise at a level drawn uniformly from [0, top] per scene, in units of each
    channel's spread over the scene's six planes (about the DiT's normalised units, where it measured
    rms errors of 0.2–0.5 per plane). A decoder trained on such latents decodes fewer fragments of cars
    from a diffusion model's imprecise latents, but also fewer of the cars it half-forms (measured:
    checkpoints README, step 19)."""
    planes = latent.planes()
    first = next(iter(planes.values()))
    batch, channels = first.shape[:2]
    spread = torch.cat([plane.detach().flatten(2) for plane in planes.values()], dim=2).std(dim=2)  # (B, C)
    level = top * torch.rand(batch, 1, generator=generator).to(first.device, first.dtype)
    scale = (level * spread).view(batch, channels, 1, 1)
    return HexPlane(**{
        name: plane + scale * torch.randn(plane.shape, generator=generator).to(plane.device, plane.dtype)
        for name, plane in planes.items()
    })
