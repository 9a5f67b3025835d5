"""Diffusion over HexPlane latents (DESIGN §2): noise schedules, samplers over a `denoise_fn`,
guidance and inpainting as `denoise_fn` wrappers, and the ε-prediction training loss.

Nothing here knows a concrete model or what a condition means: a model enters as a callable
(x_t (B, ...), t (B,) long) → ε (B, ...).
"""

from core.diffusion.guidance import GuidedModelFn, batched_guidance, classifier_free_guidance, inpainting
from core.diffusion.losses import diffusion_loss, masked_mse, min_snr_weights, training_targets
from core.diffusion.samplers import (
    LOG_SNR_SAMPLERS,
    SAMPLERS,
    Callback,
    DenoiseFn,
    ddim_sample,
    ddpm_sample,
    dpm_solver_pp_sample,
    dpm_solver_pp_sde_sample,
    sample,
)
from core.diffusion.schedule import (
    SPACINGS,
    NoiseSchedule,
    cosine_schedule,
    eps_from_x0,
    linear_schedule,
    predict_x0,
    q_sample,
    spaced_timesteps,
)

__all__ = [
    "LOG_SNR_SAMPLERS",
    "SAMPLERS",
    "SPACINGS",
    "Callback",
    "DenoiseFn",
    "GuidedModelFn",
    "NoiseSchedule",
    "batched_guidance",
    "classifier_free_guidance",
    "cosine_schedule",
    "ddim_sample",
    "ddpm_sample",
    "diffusion_loss",
    "dpm_solver_pp_sample",
    "dpm_solver_pp_sde_sample",
    "eps_from_x0",
    "inpainting",
    "linear_schedule",
    "masked_mse",
    "min_snr_weights",
    "predict_x0",
    "q_sample",
    "sample",
    "spaced_timesteps",
    "training_targets",
]
