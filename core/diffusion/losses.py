"""Training objective of the latent diffusion model: ε-prediction MSE (Ho et al. 2020, "L_simple").

t is drawn uniformly from 0 … N−1, x_t = q_sample(x0, t, ε) and the model is asked for ε. On the
Padded Rollout (DESIGN §2) the cells that belong to no HexPlane plane carry no data, so the loss
averages only over the cells a `keep_mask` marks (e.g. `~padding_mask(sizes)`).

Optional `weights` stress some of the error: per sample, `min_snr_weights` (min-SNR-γ, Hang et al.
2023: the nearly clean timesteps, whose ε is hard to see and easy to over-fit, count less, so the noisy
ones, where a scene's layout is decided, count relatively more), and per cell, e.g. the rollout cells
that carry a class the model draws badly.
"""

from __future__ import annotations

import torch

from core.diffusion.samplers import DenoiseFn
from core.diffusion.schedule import NoiseSchedule, q_sample


def training_targets(
    schedule: NoiseSchedule, x0: torch.Tensor, generator: torch.Generator, *, input_perturbation: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(t (B,) long uniform in 0..N−1, noise ε like x0, x_t like x0), all drawn from `generator`.

    `input_perturbation` γ > 0 (Ning et al. 2023, DDPM-IP): x_t is made with ε + γ·ξ, ξ a second draw,
    while the target stays ε, so the model learns to undo inputs a little off the forward process, as
    its own sampling steps hand it (exposure bias). γ = 0 draws nothing more: the stream of earlier runs."""
    if not isinstance(generator, torch.Generator):
        raise ValueError("training_targets draws t and noise: pass a torch.Generator")
    if not input_perturbation >= 0:
        raise ValueError(f"input perturbation must be >= 0, got {input_perturbation}")
    t = torch.randint(0, schedule.num_train_steps, (x0.shape[0],), generator=generator, device=x0.device)
    noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    if not input_perturbation:
        return t, noise, q_sample(schedule, x0, t, noise)
    xi = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    return t, noise, q_sample(schedule, x0, t, noise + input_perturbation * xi)


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, keep_mask: torch.Tensor | None = None,
               weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over the cells where the bool `keep_mask` (broadcast to prediction) is True,
    each cell's error multiplied by `weights` (broadcast to prediction) when given: the weighted sum over
    kept cells divided by their number, so weights of 1 give the plain masked mean.

    Computed in at least float32 (a bf16 prediction under autocast would lose the small residuals).
    No kept cell gives 0 (still attached to the graph) rather than NaN.
    """
    if prediction.shape != target.shape:
        raise ValueError(f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ")
    dtype = torch.float64 if prediction.dtype == torch.float64 else torch.float32
    squared = (prediction.to(dtype) - target.to(dtype)) ** 2
    if keep_mask is not None and keep_mask.dtype != torch.bool:
        raise TypeError(f"keep_mask must be a bool tensor, got {keep_mask.dtype}")
    kept = torch.ones((), dtype=dtype, device=squared.device) if keep_mask is None else keep_mask.to(squared.device, dtype)
    kept = kept.expand_as(squared)
    weighted = squared if weights is None else squared * weights.to(squared.device, dtype)
    return (weighted * kept).sum() / kept.sum().clamp(min=1)


def min_snr_weights(schedule: NoiseSchedule, t: torch.Tensor, gamma: float) -> torch.Tensor:
    """(B,) loss weights of ε-prediction under min-SNR-γ: min(SNR(t), γ) / SNR(t), with SNR = ᾱ / (1 − ᾱ).
    1 where SNR ≤ γ (the noisier timesteps), γ / SNR below (the linear schedule with γ = 5: 0.0005 at
    t = 0, 0.15 at t = 50, 1 from t = 130 on)."""
    if not gamma > 0:
        raise ValueError(f"min-SNR gamma must be > 0, got {gamma}")
    alpha_bar = schedule.alphas_cumprod.to(t.device, torch.float64)[t]
    snr = alpha_bar / (1 - alpha_bar)
    return (snr.clamp(max=gamma) / snr).float()


def diffusion_loss(
    denoise_fn: DenoiseFn,
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    *,
    generator: torch.Generator,
    keep_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """One ε-prediction loss on a batch of clean latents x0 (B, ...): masked_mse(denoise_fn(x_t, t), ε)."""
    t, noise, x_t = training_targets(schedule, x0, generator)
    return masked_mse(denoise_fn(x_t, t), noise, keep_mask)
