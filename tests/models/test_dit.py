"""HexPlane DiT: adaLN-Zero start, dropped padding tokens, null conditions, per-token conditioning."""

import dataclasses

import pytest
import torch

from core.config import dit_preset
from core.models.dit import DiTConditions, HexPlaneDiT
from core.models.embedders import Patchify, ego_footprints
from core.models.hexplane import padding_mask, rollout_shape
from core.types import InputError

CONFIG = dit_preset("tiny")
REFINED = dataclasses.replace(CONFIG, output_refine=True)  # with the convolutional head over the rollout
H, W = rollout_shape(CONFIG.latent_sizes)


def randomise(model: HexPlaneDiT, seed: int = 0) -> HexPlaneDiT:
    """Give every parameter (including the zero-initialised gates) random values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=g) * 0.2)
    return model.eval()


def conditions(batch: int = 2, seed: int = 1) -> DiTConditions:
    g = torch.Generator().manual_seed(seed)
    x, y = CONFIG.latent_sizes[1:3]
    layout = torch.nn.functional.one_hot(torch.randint(0, 12, (batch, x, y), generator=g), 12).permute(0, 3, 1, 2).float()
    return DiTConditions(
        command=torch.randint(0, 4, (batch,), generator=g),
        trajectory=torch.randn(batch, CONFIG.frames, 3, generator=g),
        layout=layout, vehicles=(torch.rand(batch, CONFIG.frames, x, y, generator=g) > 0.8).float(),
        earlier=torch.randn(batch, CONFIG.latent_channels, H, W, generator=g),
    )


def inputs(batch: int = 2):
    g = torch.Generator().manual_seed(2)
    return torch.randn(batch, CONFIG.latent_channels, H, W, generator=g), torch.tensor([3, 700])[:batch]


@pytest.mark.parametrize("config", [CONFIG, REFINED], ids=["linear", "refined"])
def test_fresh_model_predicts_zero(config):
    x, t = inputs()
    assert torch.count_nonzero(HexPlaneDiT(config)(x, t, conditions())) == 0


@pytest.mark.parametrize("config", [CONFIG, REFINED], ids=["linear", "refined"])
def test_output_shape_and_padding_stays_zero(config):
    model = randomise(HexPlaneDiT(config))
    x, t = inputs()
    out = model(x, t, conditions())
    assert out.shape == x.shape and torch.count_nonzero(out[:, :, padding_mask(CONFIG.latent_sizes)]) == 0


@pytest.mark.parametrize("config", [CONFIG, REFINED], ids=["linear", "refined"])
def test_padding_cells_do_not_change_kept_outputs(config):
    model = randomise(HexPlaneDiT(config))
    x, t = inputs()
    changed = x.clone()
    changed[:, :, padding_mask(CONFIG.latent_sizes)] = 1000.0
    assert torch.allclose(model(x, t, conditions()), model(changed, t, conditions()), atol=1e-5)


def test_absent_condition_is_the_learned_null():
    model = randomise(HexPlaneDiT(CONFIG))
    x, t = inputs()
    full = conditions()
    absent = DiTConditions(command=None, trajectory=full.trajectory, layout=None, vehicles=full.vehicles, earlier=None)
    flagged = DiTConditions(**{**full.__dict__, "command_present": torch.tensor([False, False]),
                               "layout_present": torch.tensor([False, False]),
                               "earlier_present": torch.tensor([False, False])})
    assert torch.allclose(model(x, t, absent), model(x, t, flagged), atol=1e-5)
    assert not torch.allclose(model(x, t, absent), model(x, t, full), atol=1e-3)


def test_per_sample_presence_only_affects_that_sample():
    model = randomise(HexPlaneDiT(CONFIG))
    x, t = inputs()
    full = conditions()
    partial = DiTConditions(**{**full.__dict__, "layout_present": torch.tensor([True, False])})
    a, b = model(x, t, full), model(x, t, partial)
    assert torch.allclose(a[0], b[0], atol=1e-6) and not torch.allclose(a[1], b[1], atol=1e-3)


def test_layout_conditioning_is_per_token():
    """Repainting one corner of the layout changes the conditioning of the tokens over that corner,
    and not of xy tokens far away from it."""
    model = randomise(HexPlaneDiT(CONFIG))
    base = conditions(1)
    layout = base.layout.clone()
    layout[:, :, :2, :2] = torch.roll(layout[:, :, :2, :2], 1, dims=1)
    moved = DiTConditions(**{**base.__dict__, "layout": layout})
    position = {int(p): i for i, p in enumerate(model.keep)}
    grid_width = model.grid[1]
    for path in ("tokens", "inputs"):  # the adaLN code and the input tokens
        before, after = (getattr(model.encode_conditions(c, 1), path) for c in (base, moved))
        change = (before - after).abs().sum(-1)[0]
        assert change[position[0]] > 1e-4  # the patch over cells (0..1, 0..1) of the xy plane
        assert change[position[3 * grid_width + 3]] < 1e-6  # the patch over cells (6..7, 6..7)


@pytest.mark.parametrize("yaw", [0.0, 0.5, 1.5708])
def test_ego_footprints_cover_the_car_at_its_pose(yaw):
    """The footprint's area is the car's, its centre is the pose, and it lies along the heading."""
    pose = torch.tensor([[[3.0, -2.0, yaw]]])
    cells, extent, car = (64, 64), 51.2, (4.6, 1.9)
    footprint = ego_footprints(pose, cells, extent, car)[0, 0, 0].double()
    size = extent / cells[0]
    centres = -extent / 2 + (torch.arange(64, dtype=torch.float64) + 0.5) * size
    assert footprint.sum() * size**2 == pytest.approx(car[0] * car[1], rel=0.05)
    weights = footprint / footprint.sum()
    mean_x, mean_y = (weights.sum(1) * centres).sum(), (weights.sum(0) * centres).sum()
    assert (float(mean_x), float(mean_y)) == pytest.approx((3.0, -2.0), abs=0.05)  # cells weigh at their centres
    spread_x = (weights.sum(1) * (centres - mean_x) ** 2).sum()
    spread_y = (weights.sum(0) * (centres - mean_y) ** 2).sum()
    assert (spread_x > spread_y) == (abs(torch.cos(torch.tensor(yaw))) > abs(torch.sin(torch.tensor(yaw))))


@pytest.mark.parametrize("channels", [10, 16, 24])
def test_patchify_is_the_strided_convolution_also_in_bfloat16(channels):
    torch.manual_seed(0)
    patchify = Patchify(channels, 64, 4)
    conv = torch.nn.Conv2d(channels, 64, 4, stride=4)
    conv.load_state_dict(patchify.state_dict())  # the same parameters, so checkpoints load unchanged
    x = torch.randn(2, channels, 20, 24)
    reference = conv(x)
    assert torch.allclose(patchify(x), reference, atol=1e-5)
    with torch.autocast("cpu", torch.bfloat16):  # the shapes whose oneDNN convolution fails on AMX CPUs
        reduced = patchify(x).float()
    assert ((reduced - reference).norm() / reference.norm()).item() < 0.01


def test_trajectory_map_conditions_the_tokens_where_the_car_drives():
    """Moving the requested path changes the conditioning of the tokens under the old and the new path,
    and not of xy tokens far from both."""
    config = dit_preset("tiny", latent_sizes=(2, 16, 16, 2), extent=12.8)
    model = randomise(HexPlaneDiT(config))
    frames = config.frames

    def parked_at(x: float, y: float) -> DiTConditions:
        return DiTConditions(trajectory=torch.tensor([[x, y, 0.0]]).expand(1, frames, 3).clone())

    position = {int(p): i for i, p in enumerate(model.keep)}
    grid_width = model.grid[1]

    def token(x_m: float, y_m: float) -> int:  # the xy token over a point, patch 2 of 0.8 m cells
        return position[int((x_m + 6.4) / 1.6) * grid_width + int((y_m + 6.4) / 1.6)]

    for path in ("tokens", "inputs"):
        before, after = (getattr(model.encode_conditions(c, 1), path) for c in (parked_at(-4, -4), parked_at(4, 4)))
        change = (before - after).abs().sum(-1)[0]
        assert change[token(-4, -4)] > 1e-4 and change[token(4, 4)] > 1e-4
        assert change[token(-4, 4)] < 1e-6


def test_encoded_conditions_give_the_same_prediction():
    model = randomise(HexPlaneDiT(CONFIG))
    x, t = inputs()
    code = model.encode_conditions(conditions(), 2)
    assert torch.allclose(model(x, t, code), model(x, t, conditions()), atol=1e-6)


def test_bad_shapes_and_configs():
    with pytest.raises(ValueError, match="x_t must be"):
        HexPlaneDiT(CONFIG)(torch.zeros(1, CONFIG.latent_channels, H + 1, W), torch.tensor([1]))
    with pytest.raises(InputError, match="patch 5 must divide"):
        dit_preset("tiny", patch=5)


def test_forgetting_token_conditions_keeps_the_absent_case_and_ignores_them_when_present():
    model = randomise(HexPlaneDiT(CONFIG))
    x, t = inputs()
    absent = model(x, t, DiTConditions())
    model.forget_token_conditions()
    assert torch.allclose(model(x, t, DiTConditions()), absent, atol=1e-5)
    full = conditions()
    no_tokens = DiTConditions(command=full.command, trajectory=full.trajectory)  # layout, vehicles, earlier absent
    # (the trajectory's own per-token path, the ego footprints, is forgotten too: present in both here)
    assert torch.allclose(model(x, t, full), model(x, t, no_tokens), atol=1e-5)


def test_the_refining_head_adds_to_the_prediction_and_starts_silent():
    """With trained (random) weights the head changes the prediction; with its last convolution at zero,
    as it is grown into a trained model, the model predicts exactly what the model without it does."""
    refined = randomise(HexPlaneDiT(REFINED))
    plain = HexPlaneDiT(CONFIG).eval()
    unexpected = plain.load_state_dict(refined.state_dict(), strict=False).unexpected_keys
    assert unexpected and all(key.startswith("output_refine.") for key in unexpected)
    x, t = inputs()
    assert not torch.allclose(refined(x, t, conditions()), plain(x, t, conditions()), atol=1e-3)
    with torch.no_grad():
        refined.output_refine.out.weight.zero_()
        refined.output_refine.out.bias.zero_()
    assert torch.allclose(refined(x, t, conditions()), plain(x, t, conditions()), atol=1e-5)
