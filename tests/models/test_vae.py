"""HexPlane VAE: shapes for both presets, both baselines, the compression ratio, learning on a tiny grid."""

import numpy as np
import pytest
import torch

from core.config import VAEConfig, vae_preset
from core.models.losses import class_weights, lovasz_softmax, vae_loss
from core.models.hexplane import PLANES, HexPlane
from core.models.vae import HexPlaneVAE, with_latent_noise
from core.types import InputError

TINY_CHANNELS = dict(latent_channels=2, embed_channels=2, stem_channels=2, encoder_channels=4,
                     decoder_channels=4, head_channels=2, attention_heads=2, query_hidden=8)


def labels_for(config: VAEConfig, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, config.num_classes, (1, config.frames, *config.cells), generator=g)


@pytest.mark.parametrize("preset", ["cpu", "carlasc"])
def test_shapes_of_both_presets(preset):
    config = vae_preset(preset, frames=4, **TINY_CHANNELS)
    model = HexPlaneVAE(config)
    labels = labels_for(config)
    mean, log_var = model.encode(labels)
    t, x, y, z = config.latent_sizes
    expected = {"xy": (x, y), "xz": (x, z), "yz": (y, z), "tx": (t, x), "ty": (t, y), "tz": (t, z)}
    for name, plane in mean.planes().items():
        assert plane.shape == (1, config.latent_channels, *expected[name]), name
    assert model.decode(mean).shape == (1, 12, 4, *config.cells)


@pytest.mark.parametrize("projection, decoder", [("average", "expansion"), ("attention", "query"), ("average", "query")])
def test_baselines_have_the_same_interface(projection, decoder):
    config = vae_preset("tiny", projection=projection, decoder=decoder)
    logits, mean, _ = HexPlaneVAE(config)(labels_for(config))
    assert logits.shape == (1, 12, 4, 8, 8, 4) and mean.xy.shape == (1, 4, 8, 8)


def test_compression_ratio_matches_the_paper_definition():
    cpu = vae_preset("cpu")
    assert cpu.latent_sizes == (8, 64, 64, 4)
    assert cpu.compression_ratio == pytest.approx(16 * 64 * 64 * 8 / (10 * (4096 + 256 + 256 + 512 + 512 + 32)))
    assert cpu.compression_ratio >= 8
    # the paper's CarlaSC setting: C = 16, everything halved -> 23.14 (DESIGN §2)
    paper = VAEConfig(cells=(128, 128, 8), downsample=(2, 2, 2, 2), latent_channels=16)
    assert paper.compression_ratio == pytest.approx(23.14, abs=0.01)


def test_config_rejects_bad_values():
    with pytest.raises(InputError, match="unknown VAEConfig option"):
        vae_preset("cpu", latent=3)
    with pytest.raises(InputError, match="must divide the grid"):
        vae_preset("cpu", downsample=(3, 1, 1, 2))
    with pytest.raises(InputError, match="projection"):
        vae_preset("cpu", projection="max")
    with pytest.raises(InputError, match="projection_scores needs projection='attention'"):
        vae_preset("cpu", projection="average", projection_scores=True)


def test_attention_projection_is_learned_not_pooled():
    config = vae_preset("tiny")
    attention, average = HexPlaneVAE(config), HexPlaneVAE(vae_preset("tiny", projection="average"))
    assert sum(p.numel() for p in attention.projection.parameters()) > 0
    assert sum(p.numel() for p in average.projection.parameters()) == 0


@pytest.mark.parametrize("direct_scores", [False, True])
def test_attention_projection_is_multi_head_attention_over_projected_keys_and_values(direct_scores):
    """The projection never forms keys and values, yet computes textbook attention pooling with them,
    gradients included; direct scores add to the textbook logits."""
    from core.models.blocks import AttentionProjection

    torch.manual_seed(0)
    block = AttentionProjection(channels=8, heads=2, collapsed_positions=5, direct_scores=direct_scores).double()
    with torch.no_grad():  # float64: compare exactly
        for parameter in block.parameters():
            parameter.copy_(torch.randn(parameter.shape, dtype=torch.float64))
    tokens = torch.randn(3, 5, 8, dtype=torch.float64, requires_grad=True)

    def textbook(x: torch.Tensor) -> torch.Tensor:
        query = block.to_query(x.mean(dim=1)) + block.query_bias
        key, value = block.to_key_value(x + block.position).chunk(2, dim=-1)
        split = lambda a: a.reshape(a.shape[0], a.shape[1], 2, 4).transpose(1, 2)  # noqa: E731  (N, h, R, d)
        added = None
        if direct_scores:
            added = (torch.einsum("hc,nrc->nhr", block.content_scores, x + block.position) + block.position_scores)[:, :, None]
        pooled = torch.nn.functional.scaled_dot_product_attention(split(query[:, None]), split(key), split(value),
                                                                  attn_mask=added)
        return block.out(pooled.transpose(1, 2).reshape(3, 8))

    ours, expected = block(tokens), textbook(tokens)
    assert torch.allclose(ours, expected, rtol=1e-9, atol=1e-9)
    (grad_ours,) = torch.autograd.grad(ours.square().sum(), tokens)
    (grad_expected,) = torch.autograd.grad(expected.square().sum(), tokens)
    assert torch.allclose(grad_ours, grad_expected, rtol=1e-9, atol=1e-9)


def test_direct_scores_start_at_zero_and_move_with_the_first_gradient():
    """At initialisation the direct scores change nothing; their gradient is already there."""
    from core.models.blocks import AttentionProjection

    torch.manual_seed(0)
    plain = AttentionProjection(channels=8, heads=2, collapsed_positions=5)
    scored = AttentionProjection(channels=8, heads=2, collapsed_positions=5, direct_scores=True)
    scored.load_state_dict(plain.state_dict(), strict=False)
    tokens = torch.randn(3, 5, 8) + torch.linspace(-2, 2, 5)[:, None]  # positions that differ
    assert torch.equal(plain(tokens), scored(tokens))
    scored(tokens).square().sum().backward()
    assert scored.position_scores.grad.abs().sum() > 0 and scored.content_scores.grad.abs().sum() > 0


def test_lovasz_is_zero_for_perfect_predictions_and_positive_otherwise():
    labels = torch.tensor([0, 1, 2, 1])
    perfect = torch.nn.functional.one_hot(labels, 3).float()
    assert float(lovasz_softmax(perfect, labels)) == pytest.approx(0.0)
    assert float(lovasz_softmax(perfect.flip(0), labels)) > 0.5


def test_a_few_steps_lower_the_loss():
    torch.manual_seed(0)
    config = vae_preset("tiny")
    model = HexPlaneVAE(config)
    labels = labels_for(config) % 3  # an easy scene
    weights = class_weights(np.ones(12))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        logits, mean, log_var = model(labels)
        terms = vae_loss(logits, labels, mean, log_var, weights=weights, lovasz_budget=64)
        optimizer.zero_grad()
        terms.total.backward()
        optimizer.step()
        losses.append(float(terms.total.detach()))
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


def test_unobserved_voxels_do_not_count():
    config = vae_preset("tiny")
    model = HexPlaneVAE(config)
    labels = labels_for(config)
    logits, mean, log_var = model(labels, sample=False)
    unobserved = torch.zeros_like(labels, dtype=torch.bool)
    unobserved[:, :2] = True
    changed = labels.clone()
    changed[:, :2] = 0  # different labels where nobody looked
    weights = class_weights(np.ones(12))
    a = vae_loss(logits, labels, mean, log_var, weights=weights, unobserved=unobserved, generator=torch.Generator().manual_seed(0))
    b = vae_loss(logits, changed, mean, log_var, weights=weights, unobserved=unobserved, generator=torch.Generator().manual_seed(0))
    assert a.cross_entropy == pytest.approx(b.cross_entropy)


def test_latent_noise_scales_with_each_channels_spread():
    torch.manual_seed(0)
    planes = {name: torch.randn(2, 3, 32, 32) for name in PLANES}
    for plane in planes.values():
        plane[:, 0] = 7.0  # channel 0 never varies: no spread, so no noise
        plane[:, 2] *= 10.0  # channel 2 spreads ten times wider than channel 1
    latent = HexPlane(**planes)
    unchanged = with_latent_noise(latent, 0.0, torch.Generator().manual_seed(1))
    assert all(torch.equal(unchanged.planes()[n], planes[n]) for n in PLANES)
    noisy = [with_latent_noise(latent, 1.0, torch.Generator().manual_seed(1)) for _ in range(2)]
    assert all(torch.equal(noisy[0].planes()[n], noisy[1].planes()[n]) for n in PLANES)  # seeded
    change = torch.cat([(noisy[0].planes()[n] - planes[n]).flatten(2) for n in PLANES], dim=2)  # (B, C, cells)
    assert torch.all(change[:, 0] == 0)
    spread = torch.cat([planes[n].flatten(2) for n in PLANES], dim=2).std(dim=2)
    ratio = change[:, 2].std(dim=1) / change[:, 1].std(dim=1)
    assert torch.allclose(ratio, spread[:, 2] / spread[:, 1], rtol=0.05)  # about 10
