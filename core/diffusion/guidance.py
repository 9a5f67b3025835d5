"""Wrappers that turn one `denoise_fn` into another: classifier-free guidance and inpainting.

- `classifier_free_guidance` / `batched_guidance`: Ho & Salimans 2022, ε̃ = ε_u + s · (ε_c − ε_u),
  the reference's sampling-time guidance (scale 4.0, DESIGN §2). What "unconditional" means (learned
  null embeddings) is the model's business; here it is just a second callable or a boolean flag. The
  same extrapolation with a weaker model's prediction of the same conditions in place of ε_u is
  autoguidance (Karras et al. 2024), which also guides requests that carry no condition at all.
- `inpainting`: RePaint-style conditioning (Lugmayr et al. 2022) without the resampling jumps, expressed
  in the sampler's own state so that every sampler (DDPM, DDIM, DPM-Solver++) supports it unchanged.

Each returns a `DenoiseFn` with the same (x_t, t) → ε signature, so wrappers compose.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from core.diffusion.samplers import DenoiseFn
from core.diffusion.schedule import NoiseSchedule, eps_from_x0, q_sample

GuidedModelFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""(x_t (B, ...), t (B,) long, use_condition (B,) bool) → ε (B, ...)."""


def classifier_free_guidance(conditional: DenoiseFn, unconditional: DenoiseFn, scale: float, *,
                             start: int | None = None) -> DenoiseFn:
    """ε_u + scale · (ε_c − ε_u). Scale 1 is `conditional` itself and scale 0 `unconditional` itself
    (exactly, and with one model call instead of two). `start`: as in `batched_guidance`."""
    _check_scale(scale)
    if scale == 1:
        return conditional
    if scale == 0 and start is None:
        return unconditional

    def guided(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if not _guided_at(t, start):
            return conditional(x_t, t)
        eps_unconditional = unconditional(x_t, t)
        return eps_unconditional + scale * (conditional(x_t, t) - eps_unconditional)

    return guided


def batched_guidance(model_fn: GuidedModelFn, scale: float, *, start: int | None = None) -> DenoiseFn:
    """Classifier-free guidance from one model call on a doubled batch (2B, ...): the first half with
    the conditions, the second without. Equal to `classifier_free_guidance` over the two single calls.

    `start`: guidance only at timesteps t ≤ start; noisier steps take the conditional prediction alone
    (guidance in a limited interval, Kynkäänniemi et al. 2024: at high noise it pulls every sample
    towards the same few modes and costs quality; later it still steers the details). It needs one
    timestep per batch, as the samplers send."""
    _check_scale(scale)

    def single(x_t: torch.Tensor, t: torch.Tensor, use_condition: bool) -> torch.Tensor:
        flags = torch.full((x_t.shape[0],), use_condition, dtype=torch.bool, device=x_t.device)
        return model_fn(x_t, t, flags)

    def guided(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if not _guided_at(t, start):
            return single(x_t, t, use_condition=True)  # one model call, not two
        if scale in (0, 1):
            return single(x_t, t, use_condition=scale == 1)
        batch = x_t.shape[0]
        flags = torch.arange(2 * batch, device=x_t.device) < batch  # (2B,): conditional first
        eps = model_fn(torch.cat([x_t, x_t]), torch.cat([t, t]), flags)  # (2B, ...)
        eps_conditional, eps_unconditional = eps[:batch], eps[batch:]
        return eps_unconditional + scale * (eps_conditional - eps_unconditional)

    return guided


def inpainting(
    denoise_fn: DenoiseFn,
    schedule: NoiseSchedule,
    known_x0: torch.Tensor,
    known_mask: torch.Tensor,
    *,
    generator: torch.Generator,
) -> DenoiseFn:
    """Regenerate where `known_mask` is False, keep `known_x0` where it is True.

    known_x0 and the boolean known_mask broadcast against x_t (B, ...), e.g. (1, C, H, W) and
    (1, 1, H, W). At every call:

    1. the wrapped model sees x_t with the known region replaced by a fresh forward-noised copy of the
       known latent, q_sample(known_x0, t, z) with z from `generator` (RePaint's conditioning: the model
       harmonises the unknown region with a correctly distributed view of the known one);
    2. the returned ε is the model's in the unknown region and, in the known region,
       ε_known = eps_from_x0(x_t, t, known_x0) — the noise whose implied x0 is exactly known_x0.

    Why this is enough for any sampler: DDPM, DDIM and DPM-Solver++ all move the state as a combination
    of x_t and the x0 estimates, and all return the last step's x0 estimate. Since the estimate equals
    known_x0 in the known region at every step, the multistep history stays consistent there and the
    output equals known_x0 up to float rounding. Overwriting the sampler's state instead (classic
    RePaint) would need each sampler's cooperation and break multistep solvers' history.
    """
    if known_mask.dtype != torch.bool:
        raise TypeError(f"known_mask must be a bool tensor, got {known_mask.dtype}")
    if not isinstance(generator, torch.Generator):
        raise ValueError("inpainting draws noise: pass generator=torch.Generator(device).manual_seed(seed)")

    def inpainted(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        known = _broadcast_to(known_x0.to(device=x_t.device, dtype=x_t.dtype), x_t, "known_x0")
        mask = _broadcast_to(known_mask.to(x_t.device), x_t, "known_mask")
        noise = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
        model_input = torch.where(mask, q_sample(schedule, known, t, noise), x_t)
        eps = denoise_fn(model_input, t)
        return torch.where(mask, eps_from_x0(schedule, x_t, t, known), eps.to(x_t.dtype))

    return inpainted


def _guided_at(t: torch.Tensor, start: int | None) -> bool:
    """Whether guidance applies at the batch's timestep: always without `start`, else at t ≤ start."""
    if start is None:
        return True
    noisy = t > start
    if bool(noisy.any()) and not bool(noisy.all()):
        raise ValueError(f"guidance from t = {start} needs one timestep per batch, got {t.tolist()}")
    return not bool(noisy.any())


def _check_scale(scale: float) -> None:
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise ValueError(f"guidance scale must be a finite number, got {scale!r}")


def _broadcast_to(value: torch.Tensor, x_t: torch.Tensor, name: str) -> torch.Tensor:
    try:
        return value.expand_as(x_t)
    except RuntimeError:
        raise ValueError(f"{name} of shape {tuple(value.shape)} does not broadcast to x_t's "
                         f"{tuple(x_t.shape)}") from None
