"""Noise schedules and the forward-process closed forms."""

import pytest
import torch

from core.diffusion import (
    SPACINGS,
    NoiseSchedule,
    cosine_schedule,
    eps_from_x0,
    linear_schedule,
    predict_x0,
    q_sample,
    spaced_timesteps,
)

SCHEDULE = linear_schedule()


def random(shape, seed, dtype=torch.float64):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("schedule", [linear_schedule(), cosine_schedule()], ids=["linear", "cosine"])
def test_alpha_bar_is_float64_strictly_decreasing_in_unit_interval(schedule):
    alpha_bar = schedule.alphas_cumprod
    assert schedule.num_train_steps == 1000 and alpha_bar.shape == (1000,)
    assert schedule.betas.dtype == alpha_bar.dtype == torch.float64
    assert bool((alpha_bar[1:] < alpha_bar[:-1]).all())
    assert 0 < float(alpha_bar[-1]) and float(alpha_bar[0]) < 1
    assert torch.allclose(alpha_bar, torch.cumprod(1 - schedule.betas, 0), rtol=0, atol=1e-15)


def test_linear_schedule_matches_the_reference_values():
    assert float(SCHEDULE.betas[0]) == pytest.approx(1e-4, abs=1e-15)
    assert float(SCHEDULE.betas[-1]) == pytest.approx(0.02, abs=1e-15)
    assert float(SCHEDULE.alphas_cumprod[-1]) == pytest.approx(4.036e-5, rel=1e-3)  # DDPM's ᾱ_T


@pytest.mark.parametrize("betas", [torch.zeros(5), torch.full((5,), 1.0), torch.ones(2, 3) * 0.1, torch.ones(0)])
def test_bad_betas_are_rejected(betas):
    with pytest.raises(ValueError, match="betas"):
        NoiseSchedule(betas)


def test_schedule_copies_and_converts_its_betas():
    betas = torch.full((10,), 0.1, dtype=torch.float32)
    schedule = NoiseSchedule(betas)
    betas[0] = 0.5
    assert schedule.betas.dtype == torch.float64 and float(schedule.betas[0]) == pytest.approx(0.1)


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (2, 5)])
def test_q_sample_predict_x0_eps_from_x0_round_trip(shape):
    x0, noise = random(shape, 0), random(shape, 1)
    t = torch.tensor([0, 999])
    x_t = q_sample(SCHEDULE, x0, t, noise)
    assert torch.allclose(predict_x0(SCHEDULE, x_t, t, noise), x0, rtol=0, atol=1e-11)
    assert torch.allclose(eps_from_x0(SCHEDULE, x_t, t, x0), noise, rtol=0, atol=1e-12)


def test_q_sample_uses_each_samples_own_step():
    x0, noise = torch.ones(3, 2, 2, dtype=torch.float64), torch.zeros(3, 2, 2, dtype=torch.float64)
    t = torch.tensor([0, 500, 999])
    x_t = q_sample(SCHEDULE, x0, t, noise)
    expected = SCHEDULE.alphas_cumprod[t].sqrt()
    assert torch.allclose(x_t, expected[:, None, None].expand(3, 2, 2), rtol=0, atol=1e-15)


def test_float32_in_float32_out_accurately():
    x0, noise = random((2, 3, 4, 4), 0, torch.float32), random((2, 3, 4, 4), 1, torch.float32)
    t = torch.tensor([3, 998])
    x_t = q_sample(SCHEDULE, x0, t, noise)
    back = predict_x0(SCHEDULE, x_t, t, eps_from_x0(SCHEDULE, x_t, t, x0))
    assert x_t.dtype == back.dtype == torch.float32
    assert torch.allclose(back, x0, rtol=0, atol=1e-4)  # ≈ 157 (= 1/√ᾱ_T) float32 ulps at t = 998


@pytest.mark.parametrize("t", [torch.tensor([0]), torch.tensor([0.0, 1.0]), torch.tensor([0, 1000]),
                               torch.tensor([-1, 0]), torch.tensor([[0, 1]])])
def test_bad_t_is_rejected(t):
    with pytest.raises(ValueError, match="t must"):
        q_sample(SCHEDULE, torch.zeros(2, 3), t, torch.zeros(2, 3))


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("num_steps", [2, 3, 10, 25, 500, 999, 1000])
def test_spaced_timesteps_descend_from_last_step_to_zero(num_steps, spacing):
    steps = spaced_timesteps(SCHEDULE, num_steps, spacing=spacing)
    assert steps.dtype == torch.long and steps.shape == (num_steps,)
    assert int(steps[0]) == 999 and int(steps[-1]) == 0
    assert bool((steps[1:] < steps[:-1]).all())


def test_uniform_spacing_is_even_and_one_step_is_the_last_step():
    assert spaced_timesteps(SCHEDULE, 4).tolist() == [999, 666, 333, 0]
    assert spaced_timesteps(SCHEDULE, 1000).tolist() == list(range(999, -1, -1))
    assert spaced_timesteps(SCHEDULE, 1).tolist() == [999]
    assert spaced_timesteps(SCHEDULE, 1, spacing="log_snr").tolist() == [999]


def test_log_snr_spacing_is_denser_near_the_data():
    steps = spaced_timesteps(SCHEDULE, 10, spacing="log_snr")
    gaps = (steps[:-1] - steps[1:]).tolist()
    assert gaps[-1] < gaps[len(gaps) // 2] and steps[-2] < 20


@pytest.mark.parametrize("num_steps", [0, -3, 1001, 2.5, True, None])
def test_bad_num_steps_are_rejected(num_steps):
    with pytest.raises(ValueError, match=r"num_steps must be an int in 1\.\.1000"):
        spaced_timesteps(SCHEDULE, num_steps)


def test_unknown_spacing_names_the_choices():
    with pytest.raises(ValueError, match="uniform, log_snr"):
        spaced_timesteps(SCHEDULE, 10, spacing="karras")
