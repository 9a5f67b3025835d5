"""Analytically exact noise predictors for tests: a single known x0, and Gaussian data N(μ, σ²I)."""

import torch

from core.diffusion import eps_from_x0


def point_denoiser(schedule, x0):
    """Exact ε-predictor when the data is the single point x0: ε = eps_from_x0(x_t, t, x0)."""

    def denoise(x_t, t):
        return eps_from_x0(schedule, x_t, t, x0.expand_as(x_t).to(x_t.dtype))

    return denoise


def gaussian_denoiser(schedule, mean, std):
    """E[ε | x_t] for data N(mean, std² I): √(1−ᾱ)(x_t − √ᾱ μ) / (ᾱ σ² + 1 − ᾱ)."""

    def denoise(x_t, t):
        alpha_bar = schedule.alphas_cumprod[t.cpu()].reshape(-1, *([1] * (x_t.ndim - 1)))
        variance = alpha_bar * std**2 + 1 - alpha_bar
        eps = (1 - alpha_bar).sqrt() * (x_t.double() - alpha_bar.sqrt() * mean) / variance
        return eps.to(x_t.dtype)

    return denoise
