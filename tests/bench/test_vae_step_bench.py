"""bench/: the reference-design VAE builds and trains on a tiny grid; the step measurement works in-process."""

import torch

from bench.reference_vae import (
    PLANES, ReferenceHexPlaneVAE, ReferenceVAEConfig, lovasz_softmax_all, reference_class_weights, reference_loss,
)
from bench.vae_step import StepCase, measure
from core.models.losses import lovasz_softmax

TINY = ReferenceVAEConfig(frames=4, cells=(8, 8, 4), latent_channels=4, query_channels=8, hidden_low_res=8,
                          hidden_high_res=4, transformer_mlp=8)


def test_reference_forward_backward_on_a_tiny_grid():
    torch.manual_seed(0)
    model = ReferenceHexPlaneVAE(TINY)
    labels = torch.randint(0, 12, (1, 4, 8, 8, 4))
    logits, means, log_vars = model(labels)
    assert logits.shape == (1, 4, 8, 8, 4, 12)
    expected = {"xy": (4, 4), "xz": (4, 2), "yz": (4, 2), "tx": (2, 4), "ty": (2, 4), "tz": (2, 2)}
    assert [tuple(m.shape[2:]) for m in means] == [expected[n] for n in PLANES]
    assert all(m.shape[:2] == (1, 4) and v.shape == m.shape for m, v in zip(means, log_vars))
    loss = reference_loss(logits, labels, means, log_vars, weights=reference_class_weights(torch.ones(12).numpy()))
    loss.backward()
    assert torch.isfinite(loss)
    assert model.encoder.embedding.weight.grad is not None and model.encoder.embedding.weight.grad.abs().sum() > 0


def test_reference_lovasz_matches_ours_on_the_same_voxels():
    g = torch.Generator().manual_seed(1)
    probabilities = torch.rand(200, 5, generator=g).softmax(dim=1)
    labels = torch.randint(0, 5, (200,), generator=g)
    assert torch.allclose(lovasz_softmax_all(probabilities, labels), lovasz_softmax(probabilities, labels))


def test_reference_size_at_carlasc_is_the_papers():
    model = ReferenceHexPlaneVAE(ReferenceVAEConfig(cells=(128, 128, 8)))
    assert 1.6e6 < sum(p.numel() for p in model.parameters()) < 1.8e6  # paper: 1.7 M


def test_measure_runs_both_models_on_the_tiny_preset():
    for case in (StepCase("ours", "ours", "tiny", "as-trained"), StepCase("ours query", "ours", "tiny", decoder="query"),
                 StepCase("reference", "reference", "tiny", warmup=0, steps=1)):
        result = measure(case)
        assert len(result.seconds) == case.steps and all(s > 0 for s in result.seconds)
        assert result.parameters > 0 and result.peak_bytes >= 0 and result.median_seconds > 0
