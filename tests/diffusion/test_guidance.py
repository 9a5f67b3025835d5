"""Classifier-free guidance and inpainting as denoise_fn wrappers."""

import pytest
import torch

from core.diffusion import (
    SAMPLERS,
    batched_guidance,
    classifier_free_guidance,
    inpainting,
    linear_schedule,
    predict_x0,
    q_sample,
    sample,
)
from tests.diffusion.denoisers import gaussian_denoiser

SCHEDULE = linear_schedule()


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def noise(shape, seed=0, dtype=torch.float32):
    return torch.randn(shape, generator=generator(seed), dtype=dtype)


def toy_model(x_t, t, use_condition):
    """A per-sample model whose prediction depends on x_t, t and the condition flag."""
    shift = torch.where(use_condition, 0.3, -0.2).reshape(-1, *([1] * (x_t.ndim - 1)))
    return torch.sin(x_t) * (t.reshape(shift.shape) / 1000) + shift


def conditional(x_t, t):
    return toy_model(x_t, t, torch.ones(x_t.shape[0], dtype=torch.bool))


def unconditional(x_t, t):
    return toy_model(x_t, t, torch.zeros(x_t.shape[0], dtype=torch.bool))


X_T, T = noise((2, 3, 4, 4)), torch.tensor([10, 700])


def test_guidance_scale_one_is_the_conditional_prediction_and_zero_the_unconditional():
    assert torch.equal(classifier_free_guidance(conditional, unconditional, 1.0)(X_T, T), conditional(X_T, T))
    assert torch.equal(classifier_free_guidance(conditional, unconditional, 0.0)(X_T, T), unconditional(X_T, T))


def test_guidance_extrapolates_from_unconditional_towards_conditional():
    guided = classifier_free_guidance(conditional, unconditional, 4.0)(X_T, T)
    eps_c, eps_u = conditional(X_T, T), unconditional(X_T, T)
    assert torch.allclose(guided, eps_u + 4.0 * (eps_c - eps_u))


@pytest.mark.parametrize("scale", [0.0, 1.0, 2.5, 4.0])
def test_batched_guidance_equals_two_calls(scale):
    calls = []

    def model_fn(x_t, t, use_condition):
        calls.append(use_condition.tolist())
        return toy_model(x_t, t, use_condition)

    batched = batched_guidance(model_fn, scale)(X_T, T)
    assert torch.equal(batched, classifier_free_guidance(conditional, unconditional, scale)(X_T, T))
    expected_flags = {0.0: [[False] * 2], 1.0: [[True] * 2]}.get(scale, [[True, True, False, False]])
    assert calls == expected_flags


@pytest.mark.parametrize("scale", [float("nan"), float("inf"), "4", True])
def test_bad_guidance_scale_is_rejected(scale):
    with pytest.raises(ValueError, match="guidance scale"):
        classifier_free_guidance(conditional, unconditional, scale)
    with pytest.raises(ValueError, match="guidance scale"):
        batched_guidance(toy_model, scale)


def half_mask(shape=(1, 1, 4, 4)):
    mask = torch.zeros(shape, dtype=torch.bool)
    mask[..., :2] = True  # left half known
    return mask


@pytest.mark.parametrize("name, num_steps, options", [("ddim", 10, {}), ("ddim", 25, {"eta": 0.5}),
                                                      ("dpm++", 10, {}), ("dpm++sde", 25, {}), ("ddpm", None, {})])
def test_inpainting_keeps_the_known_region_with_every_sampler(name, num_steps, options):
    known_x0, mask = torch.full((1, 3, 4, 4), 6.0), half_mask()  # 6σ away from the model's data N(0, 1)
    denoise_fn = inpainting(gaussian_denoiser(SCHEDULE, 0.0, 1.0), SCHEDULE, known_x0, mask, generator=generator(1))
    out = sample(name, denoise_fn, noise((2, 3, 4, 4)), SCHEDULE, num_steps=num_steps, generator=generator(2),
                 **options)
    known = mask.expand_as(out)
    assert torch.allclose(out[known], known_x0.expand_as(out)[known], rtol=0, atol=1e-5)
    assert (out[~known] - 6.0).abs().min() > 1.0


def test_model_sees_forward_noised_known_latent_and_estimate_is_exact():
    seen = []

    def model(x_t, t):
        seen.append(x_t.clone())
        return torch.zeros_like(x_t)

    known_x0, mask, x_t, t = noise((1, 3, 4, 4), seed=3), half_mask(), noise((2, 3, 4, 4), seed=4), torch.tensor([5, 600])
    eps = inpainting(model, SCHEDULE, known_x0, mask, generator=generator(9))(x_t, t)
    fresh = torch.randn(x_t.shape, generator=generator(9))
    expected_input = torch.where(mask, q_sample(SCHEDULE, known_x0.expand_as(x_t), t, fresh), x_t)
    assert torch.equal(seen[0], expected_input)
    known = mask.expand_as(x_t)
    assert torch.equal(eps[~known], torch.zeros_like(x_t)[~known])
    assert torch.allclose(predict_x0(SCHEDULE, x_t, t, eps)[known], known_x0.expand_as(x_t)[known], atol=1e-5)


def test_inpainting_composes_with_guidance():
    guided = classifier_free_guidance(conditional, unconditional, 3.0)
    known_x0, mask = torch.full((1, 3, 4, 4), -2.0), half_mask()
    denoise_fn = inpainting(guided, SCHEDULE, known_x0, mask, generator=generator())
    out = sample("dpm++", denoise_fn, noise((2, 3, 4, 4)), SCHEDULE, num_steps=8)
    assert torch.allclose(out[mask.expand_as(out)], torch.tensor(-2.0), atol=1e-5)


def test_inpainting_arguments_are_checked():
    with pytest.raises(TypeError, match="bool"):
        inpainting(conditional, SCHEDULE, torch.zeros(1, 3), torch.zeros(1, 3), generator=generator())
    with pytest.raises(ValueError, match="generator"):
        inpainting(conditional, SCHEDULE, torch.zeros(1, 3), torch.zeros(1, 3, dtype=torch.bool), generator=None)
    wrapped = inpainting(conditional, SCHEDULE, torch.zeros(1, 5), torch.zeros(1, 5, dtype=torch.bool),
                         generator=generator())
    with pytest.raises(ValueError, match=r"known_x0 of shape \(1, 5\) does not broadcast"):
        wrapped(torch.zeros(2, 3), torch.tensor([1, 2]))


def test_every_sampler_is_covered():
    assert set(SAMPLERS) == {"ddim", "dpm++", "dpm++sde", "ddpm"}


def test_guidance_from_a_timestep_leaves_noisier_steps_to_the_conditional_prediction():
    calls = []

    def model_fn(x_t, t, use_condition):
        calls.append(use_condition.tolist())
        return toy_model(x_t, t, use_condition)

    late = batched_guidance(model_fn, 4.0, start=100)
    quiet, noisy = torch.tensor([50, 50]), torch.tensor([800, 800])
    assert torch.equal(late(X_T, quiet), classifier_free_guidance(conditional, unconditional, 4.0)(X_T, quiet))
    calls.clear()
    assert torch.equal(late(X_T, noisy), conditional(X_T, noisy))
    assert calls == [[True, True]]  # one call, without the unconditional half
    with pytest.raises(ValueError, match="one timestep per batch"):
        late(X_T, T)  # T = (10, 700): one step each side of the start
    everywhere = classifier_free_guidance(conditional, unconditional, 4.0)
    assert torch.equal(batched_guidance(model_fn, 4.0, start=999)(X_T, T), everywhere(X_T, T))


@pytest.mark.parametrize("scale", [0.0, 4.0])
def test_two_call_guidance_from_a_timestep_as_well(scale):
    """The two-callable form (autoguidance's, where the second model is another network) limits guidance
    the same way, at every scale."""
    late = classifier_free_guidance(conditional, unconditional, scale, start=100)
    quiet, noisy = torch.tensor([50, 50]), torch.tensor([800, 800])
    assert torch.equal(late(X_T, quiet), classifier_free_guidance(conditional, unconditional, scale)(X_T, quiet))
    assert torch.equal(late(X_T, noisy), conditional(X_T, noisy))
    with pytest.raises(ValueError, match="one timestep per batch"):
        late(X_T, T)
