"""Training objective of the latent diffusion model: ε-prediction MSE (Ho et al. 2020, "L_simple").

t is drawn uniformly from 0 … N−1, x_t = q_sample(x0, t, ε) and the model is asked for ε. On the
Padded Rollout (DESIGN §2) the cells that belong to no HexPlane plane carry no data, so the loss
averages only over the cells a `keep_mask` marks (e.g. `~padding_mask(sizes)`).
"""

from __future__ import annotations

import torch

from core.diffusion.samplers import DenoiseFn
from core.diffusion.schedule import NoiseSchedule, q_sample


def training_targets(
    schedule: NoiseSchedule, x0: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(t (B,) long uniform in 0..N−1, noise ε like x0, x_t like x0), all drawn from `generator`."""
    if not isinstance(generator, torch.Generator):
        raise ValueError("training_targets draws t and noise: pass a torch.Generator")
    t = torch.randint(0, schedule.num_train_steps, (x0.shape[0],), generator=generator, device=x0.device)
    noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    return t, noise, q_sample(schedule, x0, t, noise)


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, keep_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over the cells where the bool `keep_mask` (broadcast to prediction) is True.

    Computed in at least float32 (a bf16 prediction under autocast would lose the small residuals).
    No kept cell gives 0 (still attached to the graph) rather than NaN.
    """
    if prediction.shape != target.shape:
        raise ValueError(f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ")
    dtype = torch.float64 if prediction.dtype == torch.float64 else torch.float32
    squared = (prediction.to(dtype) - target.to(dtype)) ** 2
    if keep_mask is None:
        return squared.mean()
    if keep_mask.dtype != torch.bool:
        raise TypeError(f"keep_mask must be a bool tensor, got {keep_mask.dtype}")
    weights = keep_mask.to(device=squared.device, dtype=dtype).expand_as(squared)
    return (squared * weights).sum() / weights.sum().clamp(min=1)


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
