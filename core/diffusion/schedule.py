"""Discrete noise schedules and the closed forms of the forward process (Ho et al. 2020, DDPM).

The forward process noises clean data x0 into x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · ε, ε ~ N(0, I), for
t = 0 … N−1, with ᾱ_t = Π_{s≤t} (1 − β_s). The reference model (DESIGN §2) uses N = 1000 linear β
and ε-prediction; `cosine_schedule` is Nichol & Dhariwal 2021's alternative. Everything here is a pure
function of a frozen `NoiseSchedule`: coefficients live in float64 on the CPU, the arithmetic runs in
float64 (latents are small, and inpainting relies on x0 ↔ ε round trips being exact to the input
precision) and results come back in the input's dtype and device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True, eq=False)
class NoiseSchedule:
    """β_t for t = 0 … N−1 (float64, shape (N,)); ᾱ_t and N are derived from it."""

    betas: torch.Tensor
    alphas_cumprod: torch.Tensor = field(init=False, repr=False)
    num_train_steps: int = field(init=False)

    def __post_init__(self) -> None:
        betas = self.betas
        if not isinstance(betas, torch.Tensor) or betas.ndim != 1 or betas.numel() < 1:
            raise ValueError(f"betas must be a non-empty 1-D tensor, got {_describe(betas)}")
        betas = betas.detach().to(device="cpu", dtype=torch.float64).clone()
        if not bool(((betas > 0) & (betas < 1)).all()):
            raise ValueError(f"betas must lie in (0, 1), got range [{betas.min():.3g}, {betas.max():.3g}]")
        object.__setattr__(self, "betas", betas)
        object.__setattr__(self, "alphas_cumprod", torch.cumprod(1.0 - betas, dim=0))
        object.__setattr__(self, "num_train_steps", int(betas.numel()))

    def alpha_bar(self, t: int) -> float:
        """ᾱ_t as a Python float (float64) for one integer step t in 0 … N−1."""
        if not 0 <= int(t) < self.num_train_steps:
            raise ValueError(f"t must be in 0..{self.num_train_steps - 1}, got {t}")
        return float(self.alphas_cumprod[int(t)])


def linear_schedule(num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
    """β linear from `beta_start` to `beta_end` over `num_steps` (DDPM / DiT's "linear" at N = 1000)."""
    _check_num_steps(num_steps)
    if not 0 < beta_start <= beta_end < 1:
        raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {beta_start}, {beta_end}")
    return NoiseSchedule(torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64))


def cosine_schedule(num_steps: int = 1000, *, offset: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
    """Nichol & Dhariwal 2021: ᾱ(u) ∝ cos²((u + s)/(1 + s) · π/2), β clipped at `max_beta`."""
    _check_num_steps(num_steps)
    u = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps
    f = torch.cos((u + offset) / (1 + offset) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(min=1e-8, max=max_beta)
    return NoiseSchedule(betas)


def q_sample(schedule: NoiseSchedule, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Forward noising x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · noise; x0, noise (B, ...), t (B,) integer."""
    alpha_bar = _gather(schedule, t, x0)
    x = alpha_bar.sqrt() * x0.double() + (1 - alpha_bar).sqrt() * noise.double()
    return x.to(x0.dtype)


def predict_x0(schedule: NoiseSchedule, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """x0 implied by a noise prediction: (x_t − √(1 − ᾱ_t) · ε) / √ᾱ_t; x_t, eps (B, ...), t (B,)."""
    alpha_bar = _gather(schedule, t, x_t)
    x0 = (x_t.double() - (1 - alpha_bar).sqrt() * eps.double()) / alpha_bar.sqrt()
    return x0.to(x_t.dtype)


def eps_from_x0(schedule: NoiseSchedule, x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """Noise implied by a data prediction: (x_t − √ᾱ_t · x0) / √(1 − ᾱ_t); inverse of `predict_x0`."""
    alpha_bar = _gather(schedule, t, x_t)
    eps = (x_t.double() - alpha_bar.sqrt() * x0.double()) / (1 - alpha_bar).sqrt()
    return eps.to(x_t.dtype)


SPACINGS = ("uniform", "log_snr")


def spaced_timesteps(schedule: NoiseSchedule, num_steps: int, *, spacing: str = "uniform") -> torch.Tensor:
    """`num_steps` distinct train steps, descending from N−1 down to 0, (K,) long.

    "uniform" spaces them evenly in t; "log_snr" evenly in λ = log √(ᾱ/(1 − ᾱ)) (Lu et al. 2022's
    choice for few-step solvers: on the linear schedule λ moves fastest near t = 0, where uniform
    steps are too coarse). One step is just [N−1] (a single x0 prediction from pure noise).
    """
    last = schedule.num_train_steps - 1
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or not 1 <= num_steps <= last + 1:
        raise ValueError(f"num_steps must be an int in 1..{last + 1}, got {num_steps!r}")
    if spacing not in SPACINGS:
        raise ValueError(f"unknown spacing {spacing!r}; valid choices: {', '.join(SPACINGS)}")
    if num_steps == 1:
        return torch.tensor([last], dtype=torch.long)
    if spacing == "uniform":
        # Spacing ≥ 1 when num_steps ≤ N, so the rounded steps are distinct.
        return torch.linspace(last, 0, num_steps, dtype=torch.float64).round().long()
    return _log_snr_timesteps(schedule, num_steps)


def _log_snr_timesteps(schedule: NoiseSchedule, num_steps: int) -> torch.Tensor:
    """Nearest train step to each of `num_steps` λ values evenly spaced over [λ_{N−1}, λ_0],
    nudged so that the steps stay distinct (λ changes little per step near t = N−1)."""
    alpha_bar = schedule.alphas_cumprod
    log_snr = 0.5 * (alpha_bar.log() - (1 - alpha_bar).log())  # (N,) increasing as t decreases
    targets = torch.linspace(float(log_snr[-1]), float(log_snr[0]), num_steps, dtype=torch.float64)
    nearest = (log_snr[None, :] - targets[:, None]).abs().argmin(dim=1).tolist()  # (K,)
    steps = [schedule.num_train_steps - 1]
    for k, t in enumerate(nearest[1:], start=1):
        steps.append(min(max(t, num_steps - 1 - k), steps[-1] - 1))
    return torch.tensor(steps, dtype=torch.long)


def _gather(schedule: NoiseSchedule, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """ᾱ_t as float64 (B, 1, ..., 1) on x's device, broadcastable against x (B, ...)."""
    if not x.is_floating_point():
        raise TypeError(f"expected a floating-point tensor, got {x.dtype}")
    if not isinstance(t, torch.Tensor) or t.dtype.is_floating_point or t.shape != (x.shape[0],):
        raise ValueError(f"t must be an integer tensor of shape ({x.shape[0]},), got {_describe(t)}")
    t_cpu = t.detach().to("cpu", torch.long)
    if bool((t_cpu < 0).any() or (t_cpu >= schedule.num_train_steps).any()):
        raise ValueError(f"t must be in 0..{schedule.num_train_steps - 1}, got {t_cpu.tolist()}")
    alpha_bar = schedule.alphas_cumprod[t_cpu]  # (B,)
    return alpha_bar.reshape(-1, *([1] * (x.ndim - 1))).to(x.device)


def _check_num_steps(num_steps: int) -> None:
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive int, got {num_steps!r}")


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    return repr(value)
