"""ε-prediction training targets and the padding-aware MSE."""

import pytest
import torch

from core.diffusion import diffusion_loss, linear_schedule, masked_mse, min_snr_weights, q_sample, training_targets
from tests.diffusion.denoisers import point_denoiser

SCHEDULE = linear_schedule()


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def test_masked_mse_ignores_cells_outside_the_mask():
    prediction, target = torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    keep = torch.ones(1, 1, 4, 4, dtype=torch.bool)
    keep[..., 3:, :] = False  # a padding row
    prediction[..., 3:, :] = 1e6
    prediction[..., 0, 0] = 2.0
    assert masked_mse(prediction, target, keep).item() == pytest.approx(4.0 * 6 / (6 * 12))


def test_masked_mse_without_mask_is_the_plain_mean_and_empty_mask_gives_zero():
    prediction = torch.randn(2, 3, 4, 4, generator=generator(), requires_grad=True)
    target = torch.zeros(2, 3, 4, 4)
    assert torch.allclose(masked_mse(prediction, target), torch.nn.functional.mse_loss(prediction, target))
    empty = masked_mse(prediction, target, torch.zeros(1, 1, 4, 4, dtype=torch.bool))
    empty.backward()
    assert empty.item() == 0.0 and torch.equal(prediction.grad, torch.zeros_like(prediction))


def test_masked_mse_checks_its_arguments():
    with pytest.raises(ValueError, match="differ"):
        masked_mse(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(TypeError, match="bool"):
        masked_mse(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(2, 3))


def test_masked_mse_of_bfloat16_is_float32():
    loss = masked_mse(torch.full((4,), 1.001, dtype=torch.bfloat16), torch.ones(4, dtype=torch.bfloat16))
    assert loss.dtype == torch.float32


def test_training_targets_are_consistent_and_seeded():
    x0 = torch.randn(8, 3, 4, 4, generator=generator(1))
    t, noise, x_t = training_targets(SCHEDULE, x0, generator(2))
    assert t.shape == (8,) and t.dtype == torch.long and 0 <= int(t.min()) and int(t.max()) < 1000
    assert noise.shape == x_t.shape == x0.shape
    assert torch.equal(x_t, q_sample(SCHEDULE, x0, t, noise))
    again = training_targets(SCHEDULE, x0, generator(2))
    other = training_targets(SCHEDULE, x0, generator(3))
    assert all(torch.equal(a, b) for a, b in zip((t, noise, x_t), again))
    assert not torch.equal(noise, other[1])
    with pytest.raises(ValueError, match="Generator"):
        training_targets(SCHEDULE, x0, None)


def test_input_perturbation_moves_x_t_off_the_forward_process_by_gamma_and_keeps_the_target():
    x0 = torch.randn(16, 4, 32, 32, generator=generator(1))
    t, noise, plain = training_targets(SCHEDULE, x0, generator(2))
    t_ip, noise_ip, perturbed = training_targets(SCHEDULE, x0, generator(2), input_perturbation=0.1)
    assert torch.equal(t, t_ip) and torch.equal(noise, noise_ip)  # the same t and target ε
    off = (perturbed - plain) / (1 - SCHEDULE.alphas_cumprod[t]).sqrt().view(-1, 1, 1, 1).float()
    assert float(off.std()) == pytest.approx(0.1, rel=0.05)  # √(1 − ᾱ_t) · γ · ξ
    assert abs(float((off * noise).mean())) < 0.01  # ξ is a fresh draw, not the target
    with pytest.raises(ValueError, match="input perturbation"):
        training_targets(SCHEDULE, x0, generator(2), input_perturbation=-0.1)


def test_diffusion_loss_is_zero_for_the_exact_denoiser_and_trains_a_model():
    x0 = torch.randn(2, 3, 4, 4, generator=generator(1), dtype=torch.float64)
    loss = diffusion_loss(point_denoiser(SCHEDULE, x0), SCHEDULE, x0, generator=generator(2))
    assert loss.item() < 1e-20
    model = torch.nn.Conv2d(3, 3, 1)
    keep = torch.ones(1, 1, 4, 4, dtype=torch.bool)
    loss = diffusion_loss(lambda x_t, t: model(x_t), SCHEDULE, x0.float(), generator=generator(2), keep_mask=keep)
    loss.backward()
    assert loss.ndim == 0 and model.weight.grad is not None


def test_weights_scale_each_cells_error_and_ones_change_nothing():
    prediction, target = torch.randn(2, 3, 4, 4, generator=generator(4)), torch.zeros(2, 3, 4, 4)
    keep = torch.ones(1, 1, 4, 4, dtype=torch.bool)
    keep[..., 3:, :] = False
    plain = masked_mse(prediction, target, keep)
    assert torch.allclose(masked_mse(prediction, target, keep, torch.ones(2, 1, 1, 1)), plain)
    per_sample = torch.tensor([2.0, 0.0]).view(2, 1, 1, 1)  # the first sample doubled, the second ignored
    first = (prediction[0, :, :3] ** 2).sum() / (2 * 3 * 3 * 4)
    assert masked_mse(prediction, target, keep, per_sample).item() == pytest.approx(2 * first.item(), rel=1e-6)
    cells = torch.ones(1, 1, 4, 4)
    cells[..., 0, 0] = 5.0
    extra = 4 * (prediction[..., 0, 0] ** 2).sum() / (2 * 3 * 3 * 4)
    assert masked_mse(prediction, target, keep, cells).item() == pytest.approx((plain + extra).item(), rel=1e-6)


def test_min_snr_weights_are_one_at_high_noise_and_gamma_over_snr_near_clean():
    t = torch.tensor([0, 50, 500, 999])
    weights = min_snr_weights(SCHEDULE, t, 5.0)
    snr = SCHEDULE.alpha_bar(0) / (1 - SCHEDULE.alpha_bar(0))
    assert weights[0].item() == pytest.approx(5.0 / snr, rel=1e-5)
    assert 0 < weights[1].item() < 1 and weights[2].item() == weights[3].item() == 1.0
    assert torch.all(min_snr_weights(SCHEDULE, torch.arange(1000), 1e9) == 1.0)  # γ above every SNR: plain loss
    with pytest.raises(ValueError, match="gamma"):
        min_snr_weights(SCHEDULE, t, 0.0)
