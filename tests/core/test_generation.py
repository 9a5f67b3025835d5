"""Generation through SceneGenerator with tiny random-weight bundles: shapes, recipes, long scenes,
inpainting, and clear errors for bad requests."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from core.api import SceneGenerator
from core.checkpoint import save_bundle
from core.config import dit_preset, vae_preset
from core.models.dit import HexPlaneDiT
from core.models.vae import HexPlaneVAE
from core.types import (
    Command, Conditions, GenerationRequest, GridSpec, InputError, Layout, ProgressEvent, SamplerSettings, Trajectory,
)


def randomised(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=g) * 0.05)
    return model


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    save_bundle(randomised(HexPlaneVAE(vae_preset("tiny")), 1), folder / "vae_cpu", kind="hexplane-vae")
    save_bundle(randomised(HexPlaneDiT(dit_preset("tiny")), 2), folder / "dit_cpu", kind="hexplane-dit")
    return SceneGenerator(checkpoints=folder)


SETTINGS = SamplerSettings(sampler="dpm++", steps=4, guidance_scale=2.0, seed=5, guidance_from=500)


def request(frames=4, **conditions):
    return GenerationRequest(Conditions(**conditions), SETTINGS, frames)


def test_generate_reports_progress_and_carries_a_recipe(service):
    events: list[ProgressEvent] = []
    scene = service.generate(request(command=Command.LEFT), events.append)
    assert scene.labels.shape == (4, 8, 8, 4) and scene.labels.dtype == np.uint8
    assert [e.step for e in events if e.stage == "sampling"] == [1, 2, 3, 4]
    assert scene.metadata["recipe"]["conditions"]["command"] == "left"
    assert set(scene.metadata["recipe"]["checkpoints"]) == {"vae", "dit"}


def test_recipe_regenerates_bit_for_bit(service):
    layout = Layout(np.random.default_rng(0).integers(0, 12, (8, 8)).astype(np.uint8),
                    np.random.default_rng(1).random((4, 8, 8)) > 0.7)
    trajectory = Trajectory(np.column_stack([np.arange(4.0), np.zeros(4), np.zeros(4)]))
    first = service.generate(request(command=Command.FORWARD, layout=layout, trajectory=trajectory))
    again = service.generate_from_recipe(first.metadata["recipe"])
    assert np.array_equal(first.labels, again.labels)
    other_seed = service.generate(GenerationRequest(Conditions(command=Command.FORWARD), SamplerSettings(steps=4, seed=6), 4))
    assert other_seed.metadata["recipe"]["sampler"]["seed"] == 6
    wanted = Conditions(Command.FORWARD, trajectory, layout)
    every_step = service.generate(GenerationRequest(wanted, replace(SETTINGS, guidance_from=None), 4))
    assert every_step.metadata["recipe"]["sampler"]["guidance_from"] is None
    assert first.metadata["recipe"]["sampler"]["guidance_from"] == SETTINGS.guidance_from
    assert not np.array_equal(every_step.labels, first.labels)
    recipe = every_step.metadata["recipe"]
    older = {**recipe, "sampler": {k: v for k, v in recipe["sampler"].items() if k != "guidance_from"}}
    assert np.array_equal(service.generate_from_recipe(older).labels, every_step.labels)  # made before the field


def test_a_stochastic_sampler_regenerates_bit_for_bit(service):
    scene = service.generate(GenerationRequest(Conditions(command=Command.LEFT), replace(SETTINGS, sampler="dpm++sde"), 4))
    assert scene.metadata["recipe"]["sampler"]["sampler"] == "dpm++sde"
    assert np.array_equal(service.generate_from_recipe(scene.metadata["recipe"]).labels, scene.labels)
    ode = service.generate(GenerationRequest(Conditions(command=Command.LEFT), SETTINGS, 4))
    assert not np.array_equal(ode.labels, scene.labels)  # same seed, noise drawn at every step


def test_a_command_alone_drives_a_typical_path_kept_in_the_recipe(service):
    from core.conditions.command import command_from_trajectory

    scene = service.generate(request(command=Command.LEFT))
    path = Trajectory(np.asarray(scene.metadata["recipe"]["conditions"]["trajectory"]))
    assert path.num_frames == 4 and command_from_trajectory(path) is Command.LEFT
    assert np.allclose(scene.poses[-1, :2, 3], path.poses[-1, :2])
    assert np.array_equal(service.generate_from_recipe(scene.metadata["recipe"]).labels, scene.labels)
    alone = service.generate(GenerationRequest(Conditions(command=Command.LEFT), SETTINGS, 4, command_path=False))
    assert alone.metadata["recipe"]["conditions"]["trajectory"] is None
    assert np.array_equal(service.generate_from_recipe(alone.metadata["recipe"]).labels, alone.labels)
    with pytest.raises(InputError, match="frames must be a multiple of 4"):
        service.generate(request(frames=6, command=Command.LEFT))
    layout = Layout(np.ones((8, 8), np.uint8))
    drawn = service.generate(request(command=Command.LEFT, layout=layout))
    assert drawn.metadata["recipe"]["conditions"]["trajectory"] is None


def test_long_scene_has_t_times_k_frames_and_world_poses(service):
    trajectory = Trajectory(np.column_stack([np.arange(8.0), np.zeros(8), np.zeros(8)]))
    scene = service.generate(request(frames=8, trajectory=trajectory))
    assert scene.labels.shape[0] == 8 and scene.metadata["clip_frames"] == 4
    assert np.allclose(scene.poses[:, 0, 3], np.arange(8.0))


def test_inpainting_keeps_every_voxel_outside_the_mask(service):
    source = service.generate(request(command=Command.STATIC))
    mask = np.zeros((8, 8), bool)
    mask[2:5, 3:6] = True
    result = service.inpaint(source, mask, SamplerSettings(steps=4, seed=9))
    outside = ~np.broadcast_to(mask[None, :, :, None], source.labels.shape)
    assert np.array_equal(result.labels[outside], source.labels[outside])
    frames_only = service.inpaint(source, mask, SamplerSettings(steps=4, seed=9), frames=range(1, 3))
    assert np.array_equal(frames_only.labels[[0, 3]], source.labels[[0, 3]])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: request(trajectory=Trajectory(np.zeros((5, 3)))), "trajectory must have 4 poses"),
        (lambda: request(layout=Layout(np.zeros((9, 8), np.uint8))), "layout must be 8×8"),
        (lambda: request(frames=6), "frames must be a multiple of 4"),
    ],
)
def test_bad_requests(service, make, message):
    with pytest.raises(InputError, match=message):
        service.generate(make())


def test_bad_inputs_that_fail_before_a_request():
    with pytest.raises(InputError, match="NaN"):
        Trajectory(np.full((4, 3), np.nan))
    with pytest.raises(InputError, match="unknown command"):
        Command.parse("backwards")
    with pytest.raises(InputError, match="unknown sampler"):
        SamplerSettings(sampler="euler")
    with pytest.raises(InputError, match="guidance_from must be a timestep"):
        SamplerSettings(guidance_from=1000)


def test_bad_masks_and_scenes(service):
    source = service.generate(request())
    with pytest.raises(InputError, match="mask must be 8×8"):
        service.inpaint(source, np.ones((4, 4), bool), SETTINGS)
    with pytest.raises(InputError, match="mask is empty"):
        service.inpaint(source, np.zeros((8, 8), bool), SETTINGS)
    with pytest.raises(InputError, match="inpainting needs a 4-frame scene"):
        service.inpaint(service.procedural_scene(seed=1), np.ones((8, 8), bool), SETTINGS)


def test_mismatched_checkpoints_and_missing_ones(tmp_path):
    save_bundle(HexPlaneVAE(vae_preset("tiny")), tmp_path / "vae_cpu", kind="hexplane-vae")
    save_bundle(HexPlaneDiT(dit_preset("tiny", latent_channels=3)), tmp_path / "dit_cpu", kind="hexplane-dit")
    with pytest.raises(InputError, match="use matching checkpoints"):
        SceneGenerator(checkpoints=tmp_path).generate(request())
    with pytest.raises(InputError, match="no trained model at .*none/vae_cpu"):
        SceneGenerator(checkpoints=tmp_path / "none").generate(request())


@pytest.fixture(scope="module")
def guided(service, tmp_path_factory):
    """The same bundles plus a guide: another (randomised) state of the same tiny DiT."""
    import shutil

    folder = tmp_path_factory.mktemp("guided")
    for name in ("vae_cpu", "dit_cpu"):
        shutil.copytree(service._checkpoints / name, folder / name)
    save_bundle(randomised(HexPlaneDiT(dit_preset("tiny")), 3), folder / "dit_guide_cpu", kind="hexplane-dit")
    return SceneGenerator(checkpoints=folder)


def test_a_guide_steers_requests_without_conditions_only(service, guided):
    alone = replace(request(), command_path=False)  # nothing, given to the model itself
    plain, steered = service.generate(alone), guided.generate(alone)
    assert not np.array_equal(plain.labels, steered.labels)
    assert set(steered.metadata["recipe"]["checkpoints"]) == {"vae", "dit", "dit_guide"}
    with pytest.raises(InputError, match="a recipe is a JSON object"):
        guided.generate_from_recipe([steered.metadata["recipe"]])
    assert np.array_equal(guided.generate_from_recipe(steered.metadata["recipe"]).labels, steered.labels)
    with pytest.raises(InputError, match="other checkpoints"):
        service.generate_from_recipe(steered.metadata["recipe"])
    asked = request(command=Command.LEFT)  # classifier-free guidance: the guide is not used
    plain, steered = service.generate(asked), guided.generate(asked)
    assert np.array_equal(plain.labels, steered.labels)
    assert plain.metadata["recipe"] == steered.metadata["recipe"]  # so either regenerates it
    assert np.array_equal(guided.generate_from_recipe(plain.metadata["recipe"]).labels, plain.labels)
    unguided = GenerationRequest(Conditions(), replace(SETTINGS, guidance_scale=1.0), 4, command_path=False)
    assert np.array_equal(service.generate(unguided).labels, guided.generate(unguided).labels)
    plain, steered = service.generate(request()), guided.generate(request())  # by default a drawn drive:
    assert np.array_equal(plain.labels, steered.labels)  # guided classifier-free, the guide is not used
    assert set(steered.metadata["recipe"]["checkpoints"]) == {"vae", "dit"}
    assert set(guided.hashes_for(request())) == {"vae", "dit"}  # as asked, before the drive is drawn
    assert set(guided.hashes_for(alone)) == {"vae", "dit", "dit_guide"}


def test_kept_scenes_are_the_scenes_the_generator_makes(service, tmp_path):
    from core.eval.kept import KeptScenes

    fresh = KeptScenes(SceneGenerator(checkpoints=service._checkpoints), tmp_path)  # nothing loaded yet
    asked = request(command=Command.RIGHT)
    made = fresh.generate(asked)
    again = KeptScenes(SceneGenerator(checkpoints=service._checkpoints), tmp_path)
    assert np.array_equal(again.generate(asked).labels, service.generate(asked).labels) and again.read_back == 1
    assert again.generate(asked).metadata["recipe"] == made.metadata["recipe"] == service.generate(asked).metadata["recipe"]


def test_a_kept_sample_decoded_by_another_vae_is_the_scene_that_vae_makes(service, tmp_path):
    import shutil

    from core.eval.kept import KeptScenes

    other = tmp_path / "other"  # the same DiT, another decoder
    shutil.copytree(service._checkpoints / "dit_cpu", other / "dit_cpu")
    save_bundle(randomised(HexPlaneVAE(vae_preset("tiny")), 4), other / "vae_cpu", kind="hexplane-vae")
    asked = request(frames=8, command=Command.LEFT)  # two clips
    KeptScenes(service, tmp_path / "kept").generate(asked)
    kept = KeptScenes(SceneGenerator(checkpoints=other), tmp_path / "kept")
    decoded, made = kept.generate(asked), SceneGenerator(checkpoints=other).generate(asked)
    assert kept.decoded == 1 and np.array_equal(decoded.labels, made.labels)
    assert decoded.metadata["recipe"] == made.metadata["recipe"] and not np.array_equal(decoded.labels, service.generate(asked).labels)


def test_a_request_with_nothing_draws_a_drive_at_the_citys_frequencies(service):
    from core.data.scenario import COMMAND_WEIGHTS
    from core.generation import with_command_path

    scene = service.generate(request())
    asked = scene.metadata["recipe"]["conditions"]
    assert asked["command"] in {"static", "forward", "left", "right"} and len(asked["trajectory"]) == 4
    assert asked["drawn"] and "drawn" not in service.generate(request(command=Command.LEFT)).metadata["recipe"]["conditions"]
    assert scene.metadata["command"] == asked["command"]
    assert np.array_equal(service.generate_from_recipe(scene.metadata["recipe"]).labels, scene.labels)
    drawn = [with_command_path(replace(request(), sampler=replace(SETTINGS, seed=seed)), 4).conditions for seed in range(400)]
    assert all(c.trajectory is not None and c.layout is None for c in drawn)
    for command, weight in COMMAND_WEIGHTS.items():  # binomial standard deviation at most 0.025
        assert abs(np.mean([c.command is command for c in drawn]) - weight) < 0.08, command
    alone = with_command_path(replace(request(), command_path=False), 4)
    assert alone.conditions.empty()  # the model's unconditional prediction, when asked for


def test_a_guide_from_another_latent_space_is_refused(service, tmp_path):
    import shutil

    for name in ("vae_cpu", "dit_cpu"):
        shutil.copytree(service._checkpoints / name, tmp_path / name)
    save_bundle(HexPlaneDiT(dit_preset("tiny", latent_channels=3)), tmp_path / "dit_guide_cpu", kind="hexplane-dit")
    with pytest.raises(InputError, match="the guide model makes latents .* earlier state of the same DiT training"):
        SceneGenerator(checkpoints=tmp_path).generate(request())
    channels = dit_preset("tiny").latent_channels
    shifted = dit_preset("tiny", latent_mean=(0.5,) * channels, latent_std=(1.0,) * channels)
    save_bundle(HexPlaneDiT(shifted), tmp_path / "dit_guide_cpu", kind="hexplane-dit")
    with pytest.raises(InputError, match="the guide model normalises latents differently"):
        SceneGenerator(checkpoints=tmp_path).generate(request())


def test_generate_cli(service, tmp_path, capsys):
    import json

    import imageio.v3 as iio

    from core.generate import main

    folder = str(service._checkpoints)
    out = tmp_path / "a.npz"
    assert main(["--checkpoints", folder, "--command", "left", "--steps", "3", "--frames", "4", "--out", str(out)]) == 0
    recipe = out.with_suffix(".recipe.json")
    assert json.loads(recipe.read_text())["conditions"]["command"] == "left"
    assert len(json.loads(recipe.read_text())["conditions"]["trajectory"]) == 4
    alone = tmp_path / "alone.npz"
    assert main(["--checkpoints", folder, "--command", "left", "--no-path", "--steps", "3", "--frames", "4", "--out", str(alone)]) == 0
    assert json.loads(alone.with_suffix(".recipe.json").read_text())["conditions"]["trajectory"] is None
    tidy = tmp_path / "tidy.npz"
    assert main(["--checkpoints", folder, "--command", "left", "--remove-specks", "--steps", "3", "--frames", "4", "--out", str(tidy)]) == 0
    assert json.loads(tidy.with_suffix(".recipe.json").read_text())["sampler"]["remove_specks"] is True
    again = tmp_path / "b.npz"
    assert main(["--checkpoints", folder, "--recipe", str(recipe), "--out", str(again)]) == 0
    assert np.array_equal(np.load(out)["labels"], np.load(again)["labels"])
    mask = np.zeros((32, 32, 4), np.uint8)
    mask[8:20, 8:20] = 255
    iio.imwrite(tmp_path / "mask.png", mask)
    assert main(["--checkpoints", folder, "--inpaint", str(out), "--mask", str(tmp_path / "mask.png"), "--steps", "3",
                 "--out", str(tmp_path / "c.npz")]) == 0
    capsys.readouterr()
    for bad, message in ((["--command", "up"], "unknown command"), (["--inpaint", str(out)], "needs --mask"),
                         (["--layout", str(tmp_path / "none.png")], "not a readable image")):
        assert main(["--checkpoints", folder, "--frames", "4", "--out", str(tmp_path / "x.npz"), *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1


def test_extend_adds_a_clip_and_continues_the_poses(service):
    trajectory = Trajectory(np.column_stack([np.arange(4.0), np.zeros(4), np.zeros(4)]))
    first = service.generate(request(trajectory=trajectory))
    longer = service.extend(first, SamplerSettings(steps=3, seed=1), trajectory=trajectory)
    assert longer.labels.shape[0] == 8 and np.array_equal(longer.labels[:4], first.labels)
    assert np.allclose(longer.poses[4:, 0, 3], np.arange(4.0, 8.0))  # continues at the same speed
    assert longer.metadata["clip_frames"] == 4 and len(longer.metadata["extensions"]) == 1
    longest = longer
    for _ in range(6):
        longest = service.extend(longest, SamplerSettings(steps=2, seed=1))
    assert longest.num_frames == 32
    with pytest.raises(InputError, match="can grow to 32 frames"):
        service.extend(longest, SamplerSettings(steps=2))


@pytest.fixture(scope="module")
def speckled(tmp_path_factory):
    """The tiny bundles with a decoder that favours vehicles, so its scenes hold vehicle specks."""
    from core.postprocess import VEHICLE

    folder = tmp_path_factory.mktemp("speckled")
    torch.manual_seed(0)
    vae = randomised(HexPlaneVAE(vae_preset("tiny")), 1)
    with torch.no_grad():
        vae.decoder.to_logits[2].bias[VEHICLE] += 0.5
    save_bundle(vae, folder / "vae_cpu", kind="hexplane-vae")
    save_bundle(randomised(HexPlaneDiT(dit_preset("tiny")), 2), folder / "dit_cpu", kind="hexplane-dit")
    return SceneGenerator(checkpoints=folder)


def test_removing_specks_changes_only_the_specks_and_is_kept_in_the_recipe(speckled, tmp_path):
    from core.eval.kept import KeptScenes
    from core.postprocess import VEHICLE, vehicle_specks

    raw = speckled.generate(request(frames=8, command=Command.LEFT))
    specks = vehicle_specks(raw.labels, 6)
    assert specks.any() and (raw.labels == VEHICLE).sum() > specks.sum()  # specks and bigger blobs to start from
    tidy_request = GenerationRequest(Conditions(command=Command.LEFT), replace(SETTINGS, remove_specks=True), 8)
    tidy = speckled.generate(tidy_request)
    assert np.array_equal(tidy.labels != raw.labels, specks) and not (tidy.labels[specks] == VEHICLE).any()
    assert not vehicle_specks(tidy.labels, 6).any()
    assert tidy.metadata["recipe"]["sampler"]["remove_specks"] is True
    assert "remove_specks" not in raw.metadata["recipe"]["sampler"]  # recipes made without it read as before
    assert np.array_equal(speckled.generate_from_recipe(tidy.metadata["recipe"]).labels, tidy.labels)
    assert np.array_equal(speckled.generate_from_recipe(raw.metadata["recipe"]).labels, raw.labels)
    kept = KeptScenes(speckled, tmp_path)
    kept.generate(request(frames=8, command=Command.LEFT))
    assert np.array_equal(kept.generate(tidy_request).labels, tidy.labels) and kept.decoded == 1  # from the raw sample


def test_inpainting_and_extension_remove_specks_inside_what_they_make(speckled):
    from core.postprocess import vehicle_specks

    source = speckled.generate(request(command=Command.STATIC))
    mask = np.zeros((8, 8), bool)
    mask[1:7, 1:7] = True
    raw = speckled.inpaint(source, mask, SamplerSettings(steps=4, seed=9))
    tidy = speckled.inpaint(source, mask, SamplerSettings(steps=4, seed=9, remove_specks=True))
    outside = ~np.broadcast_to(mask[None, :, :, None], source.labels.shape)
    assert np.array_equal(tidy.labels[outside], source.labels[outside])
    assert (vehicle_specks(raw.labels, 6) & ~outside).any() and not (vehicle_specks(tidy.labels, 6) & ~outside).any()
    assert vehicle_specks(speckled.extend(source, SamplerSettings(steps=4, seed=9)).labels[4:], 6).any()
    longer = speckled.extend(source, SamplerSettings(steps=4, seed=9, remove_specks=True))
    assert np.array_equal(longer.labels[:4], source.labels) and not vehicle_specks(longer.labels[4:], 6).any()
    with pytest.raises(InputError, match="remove_specks must be true or false"):
        SamplerSettings(remove_specks="yes")


def test_cars_redrawn_as_boxes_are_kept_in_the_recipe_and_stay_inside_the_inpainted_region(speckled, tmp_path):
    from core.eval.kept import KeptScenes

    specks_off = GenerationRequest(Conditions(command=Command.LEFT), replace(SETTINGS, remove_specks=True), 8)
    plain = speckled.generate(specks_off)
    boxed_request = replace(specks_off, sampler=replace(specks_off.sampler, vehicle_boxes=True))
    boxed = speckled.generate(boxed_request)
    assert boxed.metadata["recipe"]["sampler"]["vehicle_boxes"] is True
    assert "vehicle_boxes" not in plain.metadata["recipe"]["sampler"]
    assert np.array_equal(speckled.generate_from_recipe(boxed.metadata["recipe"]).labels, boxed.labels)
    kept = KeptScenes(speckled, tmp_path)
    kept.generate(specks_off)
    assert np.array_equal(kept.generate(boxed_request).labels, boxed.labels) and kept.decoded == 1  # from the same sample
    source = speckled.generate(request(command=Command.STATIC))
    mask = np.zeros((8, 8), bool)
    mask[1:7, 1:7] = True
    inpainted = speckled.inpaint(source, mask, SamplerSettings(steps=4, seed=9, vehicle_boxes=True))
    outside = ~np.broadcast_to(mask[None, :, :, None], source.labels.shape)
    assert np.array_equal(inpainted.labels[outside], source.labels[outside])
    with pytest.raises(InputError, match="vehicle_boxes must be true or false"):
        SamplerSettings(vehicle_boxes=1)


class DecodedAs:
    """A pipeline stand-in whose decoder gives fixed class ids and a fixed next choice."""

    def __init__(self, labels, fallback, grid):
        self.labels, self.fallback = labels, fallback
        self.vae = SimpleNamespace(config=SimpleNamespace(grid=lambda: grid))

    def decode(self, rolled):
        return self.labels.copy()

    def decode_with_fallback(self, rolled, excluded):
        return self.labels.copy(), self.fallback.copy()


def test_decoding_removes_specks_and_redraws_cars_as_asked_and_only_inside_the_region():
    from core.generation import decode_clip
    from core.postprocess import FREE, VEHICLE

    grid = GridSpec(frames=1, cells=(12, 12, 3), voxel_size=(0.8, 0.8, 0.5), origin=(0, 0, 0), num_classes=12)
    labels = np.full((1, 12, 12, 3), FREE, np.uint8)
    labels[0, 3:9, 4, 1] = VEHICLE  # a car-sized blob one cell wide
    labels[0, 9, 9, 1] = VEHICLE  # a speck
    stub = DecodedAs(labels, np.full(labels.shape, 7, np.uint8), grid)
    as_decoded = decode_clip(stub, None, SamplerSettings())
    no_specks = decode_clip(stub, None, SamplerSettings(remove_specks=True))
    boxes = decode_clip(stub, None, SamplerSettings(remove_specks=True, vehicle_boxes=True))
    assert np.array_equal(as_decoded, labels)
    assert no_specks[0, 9, 9, 1] == 7 and np.array_equal(no_specks[0, 3:9], labels[0, 3:9])
    assert (boxes[0, 3:9, 3:6, 1] == VEHICLE).all() and boxes[0, 9, 9, 1] == 7  # three cells wide, speck gone
    region = np.zeros(labels.shape, bool)
    region[:, :, 4:] = True  # the car's row and beyond, not the row beside it
    inside = decode_clip(stub, None, SamplerSettings(vehicle_boxes=True), source=labels, region=region)
    assert np.array_equal(inside[~region], labels[~region]) and (inside[0, 3:9, 5, 1] == VEHICLE).all()
    assert inside[0, 9, 9, 1] == VEHICLE  # specks stay unless asked
