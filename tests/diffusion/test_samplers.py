"""Samplers against analytically exact denoisers: a single known x0 and Gaussian data N(μ, σ²I)."""

import math

import pytest
import torch

from core.diffusion import (
    SAMPLERS,
    ddim_sample,
    ddpm_sample,
    dpm_solver_pp_sample,
    linear_schedule,
    predict_x0,
    sample,
    spaced_timesteps,
)
from core.types import SAMPLER_NAMES
from tests.diffusion.denoisers import gaussian_denoiser, point_denoiser

SCHEDULE = linear_schedule()
MEAN = torch.tensor([0.5, -1.0], dtype=torch.float64).reshape(1, 2, 1, 1)  # per channel
STD = 0.5


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def noise(shape, seed=0, dtype=torch.float32):
    return torch.randn(shape, generator=generator(seed), dtype=dtype)


@pytest.mark.parametrize("name, num_steps", [("ddim", 10), ("ddim", 50), ("dpm++", 10), ("dpm++", 25),
                                             ("dpm++sde", 25), ("ddpm", None)])
@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_exact_denoiser_of_one_point_ends_at_that_point(name, num_steps, dtype, tolerance):
    x0 = noise((2, 3, 4, 4), seed=1, dtype=dtype)
    out = sample(name, point_denoiser(SCHEDULE, x0), noise((2, 3, 4, 4), dtype=dtype), SCHEDULE,
                 num_steps=num_steps, generator=generator())
    assert out.dtype == dtype
    assert torch.allclose(out, x0, rtol=0, atol=tolerance)


@pytest.mark.parametrize("name, num_steps, spacing, options", [
    ("ddim", 100, "uniform", {}),
    ("ddim", 250, "uniform", {"eta": 0.5}),
    ("dpm++", 10, "log_snr", {}),
    ("dpm++", 25, "log_snr", {}),
    ("dpm++", 50, "uniform", {}),
    ("dpm++sde", 25, "log_snr", {}),
    ("dpm++sde", 50, "log_snr", {}),
    ("dpm++", 25, "log_snr", {"eta": 0.5}),
    ("ddpm", None, "uniform", {}),
])
def test_gaussian_data_is_reproduced_from_standard_noise(name, num_steps, spacing, options):
    out = sample(name, gaussian_denoiser(SCHEDULE, MEAN, STD), noise((512, 2, 4, 4)), SCHEDULE,
                 num_steps=num_steps, spacing=spacing, generator=generator(1), **options)
    mean, std = out.double().mean(dim=(0, 2, 3)), out.double().std(dim=(0, 2, 3))  # per channel, 8192 values
    assert torch.allclose(mean, MEAN.flatten(), rtol=0, atol=0.025), mean
    assert torch.allclose(std, torch.full_like(std, STD), rtol=0.05, atol=0), std


def exact_flow(x_T):
    """Where the probability-flow ODE takes x_T for N(μ, σ²I) data (an affine map between the Gaussian
    marginals at t = N−1 and t = 0), followed by the exact x0 estimate at t = 0."""
    alpha_bar_T, alpha_bar_0 = SCHEDULE.alphas_cumprod[-1], SCHEDULE.alphas_cumprod[0]
    z = (x_T - alpha_bar_T.sqrt() * MEAN) / (alpha_bar_T * STD**2 + 1 - alpha_bar_T).sqrt()
    variance_0 = alpha_bar_0 * STD**2 + 1 - alpha_bar_0
    return MEAN + alpha_bar_0.sqrt() * STD**2 / variance_0.sqrt() * z


@pytest.mark.parametrize("name, min_ratio, max_ratio", [("ddim", 1.8, 2.2), ("dpm++", 3.5, 5.0)])
def test_convergence_order(name, min_ratio, max_ratio):
    """Doubling the steps halves DDIM's error (first order) and quarters DPM-Solver++(2M)'s."""
    x_T = torch.linspace(-3, 3, 32, dtype=torch.float64).reshape(1, 2, 4, 4)
    denoise_fn, target = gaussian_denoiser(SCHEDULE, MEAN, STD), exact_flow(x_T)
    errors = [(sample(name, denoise_fn, x_T, SCHEDULE, num_steps=n, spacing="log_snr") - target).abs().max()
              for n in (20, 40, 80)]
    for coarse, fine in zip(errors, errors[1:]):
        assert min_ratio < coarse / fine < max_ratio, errors


def test_dpm_solver_of_order_one_is_ddim():
    x_T, steps = noise((2, 3, 4, 4), dtype=torch.float64), spaced_timesteps(SCHEDULE, 12)
    denoise_fn = gaussian_denoiser(SCHEDULE, MEAN[:, :1], STD)
    first_order = dpm_solver_pp_sample(denoise_fn, x_T, SCHEDULE, steps, order=1)
    assert torch.allclose(first_order, ddim_sample(denoise_fn, x_T, SCHEDULE, steps), rtol=0, atol=1e-12)


def test_first_order_sde_solver_is_ddpm_on_the_same_steps():
    """SDE-DPM-Solver++(1) at eta = 1 takes the same step as the DDPM posterior (Lu et al. 2022, §5)."""
    x_T, steps = noise((2, 3, 4, 4), dtype=torch.float64), spaced_timesteps(SCHEDULE, 20)
    denoise_fn = gaussian_denoiser(SCHEDULE, MEAN[:, :1], STD)
    sde = dpm_solver_pp_sample(denoise_fn, x_T, SCHEDULE, steps, order=1, eta=1.0, generator=generator(3))
    ddpm = ddpm_sample(denoise_fn, x_T, SCHEDULE, timesteps=steps, generator=generator(3))
    assert torch.allclose(sde, ddpm, rtol=0, atol=1e-10)


def sde_solver_in_sigma_form(denoise_fn, x_T, steps, eta, rng):
    """SDE-DPM-Solver++(2M), midpoint form, written as k-diffusion's `sample_dpmpp_2m_sde` over
    σ_k = σ/α with x_k = x/α, first order on the first step and on the one landing on the last step."""
    sigma_k = [math.sqrt((1 - SCHEDULE.alpha_bar(t)) / SCHEDULE.alpha_bar(t)) for t in steps]
    x, previous, h_previous = x_T / math.sqrt(SCHEDULE.alpha_bar(steps[0])), None, None
    for i, t in enumerate(steps):
        x_vp = x * math.sqrt(SCHEDULE.alpha_bar(t))
        t_batch = torch.full((x.shape[0],), t)
        denoised = predict_x0(SCHEDULE, x_vp, t_batch, denoise_fn(x_vp, t_batch))
        if i == len(steps) - 1:
            return denoised
        h = math.log(sigma_k[i]) - math.log(sigma_k[i + 1])
        x = sigma_k[i + 1] / sigma_k[i] * math.exp(-eta * h) * x - math.expm1(-h - eta * h) * denoised
        if previous is not None and i < len(steps) - 2:
            x = x - 0.5 * math.expm1(-h - eta * h) * (h / h_previous) * (denoised - previous)
        x = x + sigma_k[i + 1] * math.sqrt(-math.expm1(-2 * eta * h)) * torch.randn(x.shape, generator=rng, dtype=x.dtype)
        previous, h_previous = denoised, h


@pytest.mark.parametrize("eta, num_steps", [(1.0, 6), (1.0, 25), (0.5, 12)])
def test_sde_solver_matches_the_sigma_form_reference(eta, num_steps):
    x_T, steps = noise((2, 3, 4, 4), dtype=torch.float64), spaced_timesteps(SCHEDULE, num_steps, spacing="log_snr")
    denoise_fn = gaussian_denoiser(SCHEDULE, MEAN[:, :1], STD)
    ours = dpm_solver_pp_sample(denoise_fn, x_T, SCHEDULE, steps, eta=eta, generator=generator(4))
    reference = sde_solver_in_sigma_form(denoise_fn, x_T, steps.tolist(), eta, generator(4))
    assert torch.allclose(ours, reference, rtol=0, atol=1e-10)


def test_the_sampler_names_of_the_settings_are_the_samplers():
    assert set(SAMPLER_NAMES) == set(SAMPLERS)


def test_ddim_with_eta_one_is_ddpm_on_the_same_steps():
    x_T, steps = noise((2, 3, 4, 4), dtype=torch.float64), spaced_timesteps(SCHEDULE, 20)
    denoise_fn = gaussian_denoiser(SCHEDULE, MEAN[:, :1], STD)
    ddim = ddim_sample(denoise_fn, x_T, SCHEDULE, steps, eta=1.0, generator=generator(3))
    ddpm = ddpm_sample(denoise_fn, x_T, SCHEDULE, timesteps=steps, generator=generator(3))
    assert torch.allclose(ddim, ddpm, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", SAMPLERS)
def test_callback_gets_every_step_total_and_x0_estimate(name):
    calls = []
    x_T = noise((2, 3, 4, 4))
    out = sample(name, gaussian_denoiser(SCHEDULE, 0.0, 1.0), x_T, SCHEDULE, num_steps=7,
                 generator=generator(), callback=lambda k, total, x0: calls.append((k, total, x0)))
    assert [(k, total) for k, total, _ in calls] == [(k, 7) for k in range(1, 8)]
    assert all(x0.shape == x_T.shape for _, _, x0 in calls)
    assert torch.equal(calls[-1][2], out)


@pytest.mark.parametrize("name, options", [("ddpm", {}), ("ddim", {"eta": 0.5}), ("dpm++sde", {}),
                                           ("dpm++", {"eta": 0.5})])
def test_noise_comes_only_from_the_generator(name, options):
    denoise_fn, x_T = gaussian_denoiser(SCHEDULE, 0.0, 1.0), noise((2, 3, 4, 4))
    global_state = torch.get_rng_state()
    run = lambda seed: sample(name, denoise_fn, x_T, SCHEDULE, num_steps=20, generator=generator(seed), **options)
    first, again, other = run(7), run(7), run(8)
    assert torch.equal(first, again)
    assert not torch.allclose(first, other, atol=1e-3)
    assert torch.equal(torch.get_rng_state(), global_state)


@pytest.mark.parametrize("name, options", [("ddpm", {}), ("ddim", {"eta": 0.5}), ("dpm++sde", {})])
def test_stochastic_samplers_demand_a_generator(name, options):
    with pytest.raises(ValueError, match="generator"):
        sample(name, gaussian_denoiser(SCHEDULE, 0.0, 1.0), noise((1, 2)), SCHEDULE, num_steps=3, **options)


@pytest.mark.parametrize("name", ["ddim", "dpm++"])
def test_deterministic_samplers_leave_the_generator_alone(name):
    rng = generator(5)
    state = rng.get_state()
    x_T = noise((2, 3, 4, 4))
    out = sample(name, gaussian_denoiser(SCHEDULE, 0.0, 1.0), x_T, SCHEDULE, num_steps=10, generator=rng)
    assert torch.equal(rng.get_state(), state)
    assert torch.equal(out, sample(name, gaussian_denoiser(SCHEDULE, 0.0, 1.0), x_T, SCHEDULE, num_steps=10))


def test_denoise_fn_sees_long_steps_per_sample_and_the_state_dtype():
    seen = []

    def denoise_fn(x_t, t):
        seen.append((x_t.dtype, t.dtype, tuple(t.shape), t.tolist()))
        return torch.zeros_like(x_t)

    ddim_sample(denoise_fn, noise((3, 2)), SCHEDULE, [999, 500, 0])
    assert seen == [(torch.float32, torch.long, (3,), [t] * 3) for t in (999, 500, 0)]


def test_clip_x0_clamps_the_estimate():
    far = torch.full((2, 3, 4, 4), 5.0)
    out = sample("dpm++", point_denoiser(SCHEDULE, far), noise((2, 3, 4, 4)), SCHEDULE, num_steps=5, clip_x0=1.0)
    assert torch.allclose(out, torch.ones_like(out))


def test_dispatcher_matches_the_named_functions():
    denoise_fn, x_T = gaussian_denoiser(SCHEDULE, 0.0, 1.0), noise((2, 3, 4, 4))
    steps = spaced_timesteps(SCHEDULE, 10)
    assert torch.equal(sample("ddim", denoise_fn, x_T, SCHEDULE, num_steps=10),
                       ddim_sample(denoise_fn, x_T, SCHEDULE, steps))
    assert torch.equal(sample("dpm++", denoise_fn, x_T, SCHEDULE, timesteps=steps, order=1),
                       dpm_solver_pp_sample(denoise_fn, x_T, SCHEDULE, steps, order=1))
    assert torch.equal(sample("dpm++sde", denoise_fn, x_T, SCHEDULE, timesteps=steps, generator=generator(2)),
                       dpm_solver_pp_sample(denoise_fn, x_T, SCHEDULE, steps, eta=1.0, generator=generator(2)))


def test_dispatcher_errors_are_clear():
    denoise_fn, x_T = gaussian_denoiser(SCHEDULE, 0.0, 1.0), noise((1, 2))
    with pytest.raises(ValueError, match="valid choices: ddpm, ddim, dpm\\+\\+"):
        sample("euler", denoise_fn, x_T, SCHEDULE)
    with pytest.raises(ValueError, match="not both"):
        sample("ddim", denoise_fn, x_T, SCHEDULE, num_steps=3, timesteps=[999, 0])
    with pytest.raises(TypeError, match="order"):
        sample("ddim", denoise_fn, x_T, SCHEDULE, num_steps=3, order=2)
    with pytest.raises(TypeError, match="eta"):
        sample("dpm++sde", denoise_fn, x_T, SCHEDULE, num_steps=3, eta=0.0, generator=generator())
    with pytest.raises(ValueError, match="eta must be"):
        sample("dpm++", denoise_fn, x_T, SCHEDULE, num_steps=3, eta=-1.0, generator=generator())
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        sample("dpm++", denoise_fn, x_T, SCHEDULE, num_steps=3, order=3)


@pytest.mark.parametrize("timesteps", [[], [0, 999], [999, 999, 0], [1000, 0], [999, -1],
                                       torch.tensor([[999, 0]]), torch.tensor([999.0, 0.0])])
def test_bad_timesteps_are_rejected(timesteps):
    with pytest.raises(ValueError, match="timesteps"):
        ddim_sample(gaussian_denoiser(SCHEDULE, 0.0, 1.0), noise((1, 2)), SCHEDULE, timesteps)


def test_wrong_prediction_shape_is_reported():
    with pytest.raises(ValueError, match=r"shape \(2, 3\), got \(2, 1\)"):
        ddim_sample(lambda x_t, t: x_t[:, :1], noise((2, 3)), SCHEDULE, [999, 0])
