"""The latent generation pipeline: conditions → DiT sampling on the padded rollout → VAE decoding.

Kept apart from the models (which only predict) and the samplers (which only integrate a
`denoise_fn`): here the DiT becomes a `denoise_fn`, guidance and inpainting wrap it, and latents are
(de)normalised with the statistics stored in the DiT's config.

Guidance is classifier-free (the DiT with and without the request's conditions) when the request has
a condition. A request with none (a request for nothing with `command_path` off, or inpainting: by
default a request for nothing gets a drawn drive before it gets here, `core.generation`) has nothing
to guide towards that way, so with a `guide` model, an earlier and weaker state of the same DiT
training, it is autoguidance (Karras et al. 2024): the DiT's prediction extrapolated away from the
guide's. Unguided, such requests gave scenes far off the real ones (checkpoints README, step 14).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from core.diffusion import LOG_SNR_SAMPLERS, batched_guidance, classifier_free_guidance, inpainting, linear_schedule, sample
from core.models.dit import ConditionCode, DiTConditions, HexPlaneDiT
from core.models.hexplane import rollout, rollout_shape, unroll
from core.models.vae import HexPlaneVAE
from core.types import InputError, SamplerSettings

StepCallback = Callable[[int, int, torch.Tensor], None]


class LatentPipeline:
    """A VAE and a DiT trained on its latents, on one device; optionally the DiT's `guide` for requests
    without conditions (module docstring)."""

    def __init__(self, vae: HexPlaneVAE, dit: HexPlaneDiT, *, guide: HexPlaneDiT | None = None,
                 device: torch.device | str = "cpu") -> None:
        if tuple(vae.config.latent_sizes) != tuple(dit.config.latent_sizes) or vae.config.latent_channels != dit.config.latent_channels:
            raise InputError(
                f"the DiT was trained for latents {dit.config.latent_channels}×{dit.config.latent_sizes}, "
                f"the VAE makes {vae.config.latent_channels}×{vae.config.latent_sizes}: use matching checkpoints"
            )
        if guide is not None:
            check_guide(dit, guide)
            guide = guide.to(device).eval()
        self.vae, self.dit, self.guide = vae.to(device).eval(), dit.to(device).eval(), guide
        self.device = torch.device(device)
        self.schedule = linear_schedule()
        channels = dit.config.latent_channels
        mean = dit.config.latent_mean or (0.0,) * channels
        std = dit.config.latent_std or (1.0,) * channels
        self.mean = torch.tensor(mean, device=self.device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, device=self.device).view(1, -1, 1, 1)
        self.shape = (channels, *rollout_shape(dit.config.latent_sizes))

    @torch.no_grad()
    def encode(self, labels: np.ndarray) -> torch.Tensor:
        """(T, X, Y, Z) uint8 → (1, C, H, W) normalised rollout of the VAE's μ."""
        mean, _ = self.vae.encode(torch.from_numpy(labels.astype(np.int64))[None].to(self.device))
        return (rollout(mean) - self.mean) / self.std

    @torch.no_grad()
    def decode(self, rolled: torch.Tensor) -> np.ndarray:
        """(1, C, H, W) normalised rollout → (T, X, Y, Z) uint8 class ids."""
        return _class_ids(self._logits(rolled))

    @torch.no_grad()
    def decode_with_fallback(self, rolled: torch.Tensor, excluded: int) -> tuple[np.ndarray, np.ndarray]:
        """`decode`, and the decoder's best class other than `excluded` at every voxel."""
        logits = self._logits(rolled)
        labels = _class_ids(logits)
        logits[excluded] = -torch.inf
        return labels, _class_ids(logits)

    def _logits(self, rolled: torch.Tensor) -> torch.Tensor:
        """(1, C, H, W) normalised rollout → (classes, T, X, Y, Z) logits."""
        return self.vae.decode(unroll(rolled * self.std + self.mean, self.dit.config.latent_sizes))[0]

    def denoiser(self, conditions: DiTConditions, guidance_scale: float, guidance_from: int | None = None):
        """The DiT as a guided `denoise_fn` (guidance from timestep `guidance_from` down; None: at every
        step); conditions are encoded once for all steps."""
        if self.guide is not None and conditions.empty():
            return classifier_free_guidance(prediction(self.dit, conditions), prediction(self.guide, conditions),
                                            guidance_scale, start=guidance_from)
        conditional = self.dit.encode_conditions(conditions, 1)
        unconditional = self.dit.encode_conditions(DiTConditions(), 1)

        def model_fn(x_t: torch.Tensor, t: torch.Tensor, use_condition: torch.Tensor) -> torch.Tensor:
            picked = [conditional if flag else unconditional for flag in use_condition.tolist()]
            tokens = max(c.tokens.shape[1] for c in picked)  # per-token codes, or one broadcast null
            inputs = None
            if picked[0].inputs is not None:
                inputs = torch.cat([c.inputs.expand(1, tokens, -1) for c in picked])
            code = ConditionCode(torch.cat([c.sample for c in picked]),
                                 torch.cat([c.tokens.expand(1, tokens, -1) for c in picked]), inputs)
            return self.dit(x_t, t, code)

        return batched_guidance(model_fn, guidance_scale, start=guidance_from)

    @torch.no_grad()
    def sample(
        self, conditions: DiTConditions, settings: SamplerSettings, *, callback: StepCallback | None = None,
        known: torch.Tensor | None = None, known_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """A normalised rollout (1, C, H, W); with `known` / `known_mask`, the known cells are kept."""
        generator = torch.Generator(device=self.device).manual_seed(int(settings.seed))
        x_T = torch.randn((1, *self.shape), generator=generator, device=self.device)
        denoise_fn = self.denoiser(conditions, settings.guidance_scale, settings.guidance_from)
        if known is not None:
            denoise_fn = inpainting(denoise_fn, self.schedule, known, known_mask, generator=generator)
        steps = None if settings.sampler == "ddpm" and settings.steps >= 1000 else settings.steps
        spacing = "log_snr" if settings.sampler in LOG_SNR_SAMPLERS else "uniform"
        return sample(settings.sampler, denoise_fn, x_T, self.schedule, num_steps=steps, spacing=spacing,
                      generator=generator, callback=callback)


def _class_ids(logits: torch.Tensor) -> np.ndarray:
    return logits.argmax(dim=0).to(torch.uint8).cpu().numpy()


def prediction(dit: HexPlaneDiT, conditions: DiTConditions):
    """`dit` as an unguided `denoise_fn` given `conditions` (encoded once)."""
    code = dit.encode_conditions(conditions, 1)
    return lambda x_t, t: dit(x_t, t, code)


def check_guide(dit: HexPlaneDiT, guide: HexPlaneDiT) -> None:
    """A guide must predict in the DiT's own latent space: same latent shape and normalisation."""
    def space(model: HexPlaneDiT) -> tuple:
        config = model.config
        return config.latent_channels, tuple(config.latent_sizes), config.frames

    def statistics(model: HexPlaneDiT) -> np.ndarray:
        config = model.config
        return np.array([*(config.latent_mean or ()), *(config.latent_std or ())], dtype=np.float64)

    if space(guide) != space(dit):
        raise InputError(f"the guide model makes latents {space(guide)}, the DiT {space(dit)} "
                         "(channels, sizes, frames): a guide must be an earlier state of the same DiT training")
    if statistics(guide).shape != statistics(dit).shape or not np.allclose(statistics(guide), statistics(dit), atol=1e-4):
        raise InputError("the guide model normalises latents differently from the DiT: "
                         "a guide must be an earlier state of the same DiT training")
