"""DiT training CLI on a tiny latent cache: runs, lowers the loss, resumes exactly, writes an EMA bundle."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from core.checkpoint import load_bundle, save_bundle
from core.config import vae_preset
from core.models.dit import DiTConditions
from core.models.hexplane import rollout_shape
from core.models.vae import HexPlaneVAE
from core.train import common
from core.train.cache_latents import build_cache
from core.train.train_dit import main

TINY = ["--preset", "tiny", "--batch", "4", "--warmup", "2", "--save-every", "5", "--amp", "off"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("dit")
    vae = save_bundle(HexPlaneVAE(vae_preset("tiny")), root / "vae", kind="hexplane-vae")
    return build_cache(str(vae), str(root / "cache"), drives=4, resume=False)


def test_trains_and_writes_an_ema_bundle(cache, tmp_path):
    assert main(["--cache", str(cache), "--out", str(tmp_path), "--steps", "150", "--lr", "3e-3", *TINY]) == 0
    model = load_bundle(tmp_path / "ema", kind="hexplane-dit")
    assert model.config.latent_sizes == (2, 8, 8, 2) and len(model.config.latent_std) == 4
    losses = [json.loads(line)["loss"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < losses[0]


def test_resume_is_exact(cache, tmp_path):
    straight, resumed = tmp_path / "a", tmp_path / "b"
    assert main(["--cache", str(cache), "--out", str(straight), "--steps", "10", *TINY]) == 0
    assert main(["--cache", str(cache), "--out", str(resumed), "--steps", "10", "--stop-after", "5", *TINY]) == 0
    assert main(["--cache", str(cache), "--out", str(resumed), "--steps", "10", "--resume", *TINY]) == 0
    a, b = load_file(str(straight / "ema" / "model.safetensors")), load_file(str(resumed / "ema" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_weighted_losses_and_input_perturbation_train_and_stress_the_noisy_timesteps_and_the_vehicles(cache, tmp_path, capsys):
    from core.train.cache_latents import open_cache
    from core.train.train_dit import DiTSettings, DiTTrainer, config_for_cache

    assert main(["--cache", str(cache), "--out", str(tmp_path / "w"), "--steps", "150", "--lr", "3e-3",
                 "--min-snr", "5", "--vehicle-weight", "3", "--input-perturbation", "0.1", *TINY]) == 0
    losses = [json.loads(line)["loss"] for line in (tmp_path / "w" / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < losses[0]
    latents = open_cache(cache)
    settings = DiTSettings(tmp_path, 1, 4, 1e-3, 1, 0.9, 1, "off", None, 0, min_snr=5.0, vehicle_weight=3.0)
    trainer = DiTTrainer(config_for_cache(latents, "tiny", {}), latents, settings, rank=0, world=1)
    with_cars = np.flatnonzero(latents.vehicles.any((1, 2, 3)))[:2]
    weights = trainer.loss_weights(with_cars, torch.tensor([0, 900]))
    assert weights.shape == (2, 1, *rollout_shape(trainer.config.latent_sizes))
    assert weights[0].max() < 0.01 and set(weights[1].unique().tolist()) == {1.0, 3.0}  # t = 0 nearly ignored
    plain = DiTTrainer(trainer.config, latents, dataclasses.replace(settings, min_snr=None, vehicle_weight=1.0),
                       rank=0, world=1)
    assert plain.loss_weights(with_cars, torch.tensor([0, 900])) is None
    for flag, value in (("--min-snr", "0"), ("--vehicle-weight", "-1")):
        assert main(["--cache", str(cache), "--out", str(tmp_path / "x"), flag, value, *TINY]) == 2
        assert f"{flag} must be > 0" in capsys.readouterr().err
    assert main(["--cache", str(cache), "--out", str(tmp_path / "x"), "--input-perturbation", "-0.1", *TINY]) == 2
    assert "--input-perturbation must be >= 0" in capsys.readouterr().err


def test_bad_cache(tmp_path, capsys):
    assert main(["--cache", str(tmp_path), "--out", str(tmp_path / "o"), *TINY]) == 2
    assert "not a latent cache" in capsys.readouterr().err


def test_compact_resume_continues_from_the_saved_weights(cache, tmp_path):
    first, later = tmp_path / "a", tmp_path / "b"
    assert main(["--cache", str(cache), "--out", str(first), "--steps", "20", "--stop-after", "10", *TINY]) == 0
    compact = first / "compact.safetensors"
    assert compact.is_file()
    assert main(["--cache", str(cache), "--out", str(later), "--steps", "20", "--resume-compact", str(compact), *TINY]) == 0
    state = torch.load(later / "train_state.pt", weights_only=True)
    assert state["step"] == 20 and state["elapsed"] > 0  # continued from step 10 to 20
    assert main(["--cache", str(cache), "--out", str(tmp_path / "c"), "--preset", "tiny", "--set", "width=64",
                 "--resume-compact", str(compact), "--batch", "4", "--amp", "off"]) == 2


def test_compact_resume_on_other_drives_keeps_the_models_latent_normalisation(cache, tmp_path):
    """A cache of other drives from the same VAE has other latent statistics; the continued model keeps
    the ones it was trained with (renormalising would shift every input it learned), here and on --resume."""
    other = build_cache(json.loads((cache / "meta.json").read_text())["vae"], str(tmp_path / "other"), drives=2,
                        resume=False, first_drive=4)
    assert not np.allclose(json.loads((other / "meta.json").read_text())["channel_mean"],
                           json.loads((cache / "meta.json").read_text())["channel_mean"])
    first, later = tmp_path / "a", tmp_path / "b"
    assert main(["--cache", str(cache), "--out", str(first), "--steps", "20", "--stop-after", "5", *TINY]) == 0
    trained = load_bundle(first / "ema", kind="hexplane-dit").config
    assert main(["--cache", str(other), "--out", str(later), "--steps", "20", "--stop-after", "10",
                 "--resume-compact", str(first / "compact.safetensors"), *TINY]) == 0
    assert main(["--cache", str(other), "--out", str(later), "--steps", "20", "--resume", *TINY]) == 0
    continued = load_bundle(later / "ema", kind="hexplane-dit").config
    assert continued.latent_mean == trained.latent_mean and continued.latent_std == trained.latent_std
    assert json.loads((later / "ema" / "config.json").read_text())["notes"]["steps"] == 20


def test_a_compact_state_ships_its_ema_weights(cache, tmp_path, capsys):
    from core.train.ship import main as ship

    assert main(["--cache", str(cache), "--out", str(tmp_path), "--steps", "10", *TINY]) == 0
    compact = tmp_path / "compact.safetensors"
    assert ship([str(compact), str(tmp_path / "shipped"), "--kind", "hexplane-dit"]) == 0
    shipped, ema = load_bundle(tmp_path / "shipped", kind="hexplane-dit"), load_bundle(tmp_path / "ema", kind="hexplane-dit")
    assert all(torch.allclose(shipped.state_dict()[k], v, atol=1e-3) for k, v in ema.state_dict().items())
    notes = json.loads((tmp_path / "shipped" / "config.json").read_text())["notes"]
    assert notes["steps"] == 10 and notes["weights"] == "ema" and notes["shipped_from"] == str(compact)
    assert ship([str(compact), str(tmp_path / "x"), "--kind", "hexplane-vae"]) == 2
    assert "ships only as a DiT's compact state" in capsys.readouterr().err
    (tmp_path / "junk.safetensors").write_bytes(b"not a tensor file")
    assert ship([str(tmp_path / "junk.safetensors"), str(tmp_path / "y"), "--kind", "hexplane-dit"]) == 2
    assert "not a safetensors file" in capsys.readouterr().err


@pytest.mark.parametrize("path", ["condition_input", "trajectory_map", "output_refine"])
def test_compact_state_grows_a_zero_initialised_path(cache, tmp_path, capsys, path):
    """A state trained without a growable path continues with it; the new path starts silent, so the
    continued model first computes exactly what the trained one did, with every condition present."""
    first = tmp_path / "a"
    assert main(["--cache", str(cache), "--out", str(first), "--steps", "10", "--set", f"{path}=false", *TINY]) == 0
    compact = first / "compact.safetensors"
    assert main(["--cache", str(cache), "--out", str(tmp_path / "b"), "--steps", "10", "--resume-compact", str(compact),
                 *TINY, "--set", f"{path}=true"]) == 0  # already at step 10: loads, saves, trains no further
    assert f"added to the trained model: {path}" in capsys.readouterr().err
    before, after = load_bundle(first / "ema", kind="hexplane-dit"), load_bundle(tmp_path / "b" / "ema", kind="hexplane-dit")
    assert not getattr(before.config, path) and getattr(after.config, path)
    x, t = torch.randn(2, 4, *rollout_shape(after.config.latent_sizes)), torch.tensor([10, 500])
    sizes = after.config.latent_sizes
    conditions = DiTConditions(
        command=torch.tensor([0, 2]), trajectory=torch.randn(2, after.config.frames, 3),
        layout=torch.nn.functional.one_hot(torch.randint(0, 12, (2, *sizes[1:3])), 12).permute(0, 3, 1, 2).float())
    assert torch.allclose(before(x, t, conditions), after(x, t, conditions), atol=1e-3)  # fp16 bundles
    assert torch.allclose(before(x, t), after(x, t), atol=1e-3)


def test_condition_dropout_trains_every_combination_and_the_unconditional_case(cache):
    """Each condition is dropped at its own rate, and everything at once at joint_dropout: the
    all-absent input of classifier-free guidance is trained, not left to chance (0.1⁵ before)."""
    from core.config import dit_preset
    from core.train.cache_latents import open_cache
    from core.train.train_dit import condition_batch

    config = dit_preset("tiny", condition_dropout=0.3, vehicles_dropout=0.5, joint_dropout=0.1)
    latents = open_cache(cache)
    indices = np.arange(20000) % len(latents)
    batch = condition_batch(latents, indices, config, torch.Generator().manual_seed(0), lambda x: x)
    kept = {name: getattr(batch, f"{name}_present").float() for name in ("command", "trajectory", "layout", "vehicles")}
    assert kept["command"].mean() == pytest.approx(0.9 * 0.7, abs=0.015)
    assert kept["vehicles"].mean() == pytest.approx(0.9 * 0.5, abs=0.015)
    nothing = ~torch.stack(list(kept.values())).bool().any(0) & ~batch.earlier_present
    assert nothing.float().mean() == pytest.approx(0.1 + 0.9 * 0.3**3 * 0.5 * (1 - 0.7 * (latents.earlier >= 0).mean()), abs=0.015)
    just_asked = kept["command"].bool() & kept["trajectory"].bool() & kept["layout"].bool() & ~kept["vehicles"].bool()
    assert just_asked.float().mean() > 0.1  # what the app asks for most: command, path and layout, no vehicles


def test_same_setup_allows_rounding_in_the_latent_statistics_only():
    from core.config import dit_preset
    from core.train.train_dit import same_setup

    trained = dit_preset("tiny", latent_mean=(0.1, 0.2, 0.3, 0.4), latent_std=(1.0, 1.1, 1.2, 1.3))
    assert same_setup(trained, dit_preset("tiny", latent_mean=(0.1 + 3e-8, 0.2, 0.3, 0.4), latent_std=trained.latent_std))
    assert not same_setup(trained, dit_preset("tiny", latent_mean=(0.15, 0.2, 0.3, 0.4), latent_std=trained.latent_std))
    assert not same_setup(trained, dataclasses.replace(trained, depth=3))
    assert same_setup(trained, dataclasses.replace(trained, condition_dropout=0.5, joint_dropout=0.2))  # training only


def test_reduced_precision_is_checked_through_every_condition_path(cache, tmp_path, monkeypatch, capsys):
    seen = {}

    def faults(model, forward, dtype, device, **_):
        encode = model.encode_conditions

        def recording(conditions, batch):
            seen["asked"] = conditions
            return encode(conditions, batch)

        monkeypatch.setattr(model, "encode_conditions", recording)
        seen["output"] = forward()
        return ["layout.patchify (Conv2d(...)): relative error 1.20"]

    monkeypatch.setattr(common, "reduced_precision_faults", faults)
    args = ["--cache", str(cache), "--out", str(tmp_path), "--steps", "2", "--preset", "tiny", "--batch", "4"]
    assert main([*args, "--amp", "on"]) == 2
    err = capsys.readouterr().err
    assert "bfloat16 autocast computes wrong results" in err and "layout.patchify" in err and "--amp off" in err
    asked = seen["asked"]
    for field in dataclasses.fields(asked):  # every condition given, for every sample
        assert (getattr(asked, field.name) is None) == field.name.endswith("_present"), field.name
    config = load_bundle(cache.parent / "vae", kind="hexplane-vae").config
    assert seen["output"].shape == (4, config.latent_channels, *rollout_shape(config.latent_sizes))
    assert not (tmp_path / "train_state.pt").exists()
    assert main([*args, "--amp", "off"]) == 0  # float32 needs no check
    assert json.loads((tmp_path / "ema" / "config.json").read_text())["notes"]["precision"] == "float32"


def test_command_weights_repeat_the_clips_of_a_command(cache, tmp_path, capsys):
    from core.checkpoint import read_bundle_meta
    from core.train.train_dit import clip_order, parse_command_weights
    from core.types import InputError

    commands = np.array([0, 1, 2, 3] * 250)
    plain = clip_order(commands, (), 0)
    assert np.array_equal(plain, np.random.default_rng(0).permutation(1000))  # earlier runs' order
    weighted = clip_order(commands, parse_command_weights(["left=2.5", "RIGHT=2"]), 0)
    seen = np.bincount(commands[weighted], minlength=4)
    assert seen[0] == seen[1] == 250 and seen[3] == 500 and abs(seen[2] - 625) < 40
    assert np.bincount(weighted, minlength=1000)[commands == 3].tolist() == [2] * 250  # every right turn twice
    assert np.array_equal(weighted, clip_order(commands, parse_command_weights(["left=2.5", "right=2"]), 0))
    run = ["--cache", str(cache), "--out", str(tmp_path / "run"), "--steps", "4", *TINY]
    assert main([*run, "--stop-after", "2", "--command-weights", "left=3"]) == 0
    assert read_bundle_meta(tmp_path / "run" / "ema")["notes"]["command_weights"] == "left=3"
    assert main([*run, "--resume", "--command-weights", "left=2"]) == 2  # another order: not the same run
    assert "was trained with --command-weights left=3, not left=2" in capsys.readouterr().err
    assert main([*run, "--resume", "--command-weights", "left=3"]) == 0
    for items, message in ((["left"], "expects command=weight"), (["left=0"], "must be in (0, 100]"),
                           (["left=inf"], "must be in (0, 100]"), (["uphill=2"], "--command-weights: unknown command"),
                           (["left=2", "LEFT=3"], "left is given twice")):
        assert main([*run, "--command-weights", *items]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(InputError, match="leave none of the cache's 4 clips"):
        clip_order(np.array([2, 2, 2, 2]), parse_command_weights(["left=0.0001"]), 0)
