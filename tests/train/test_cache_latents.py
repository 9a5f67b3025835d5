"""Latent cache: encodes drives with a VAE bundle, stores conditions and earlier-clip links, resumes."""

import numpy as np
import pytest
import torch

from core.checkpoint import save_bundle
from core.config import vae_preset
from core.models.vae import HexPlaneVAE
from core.train.cache_latents import build_cache, main, open_cache
from core.types import InputError


@pytest.fixture(scope="module")
def tiny_vae(tmp_path_factory):
    torch.manual_seed(0)
    return save_bundle(HexPlaneVAE(vae_preset("tiny")), tmp_path_factory.mktemp("vae") / "vae", kind="hexplane-vae")


def test_cache_holds_latents_conditions_and_links(tiny_vae, tmp_path):
    folder = build_cache(str(tiny_vae), str(tmp_path / "cache"), drives=3, resume=False)
    cache = open_cache(folder)
    assert len(cache) == 6 and cache.latents.shape == (6, 4, 12, 12)
    assert cache.earlier.tolist() == [-1, 0, -1, 2, -1, 4]
    assert cache.trajectories.shape == (6, 4, 3) and np.allclose(cache.trajectories[:, 0], 0)
    assert cache.layouts.shape == (6, 8, 8) and cache.vehicles.shape == (6, 4, 8, 8) and cache.vehicles.any()
    assert len(cache.meta["channel_std"]) == 4 and float(np.abs(cache.latents).sum()) > 0


def test_resume_continues_and_matches(tiny_vae, tmp_path, monkeypatch):
    import core.train.cache_latents as module

    whole = open_cache(build_cache(str(tiny_vae), str(tmp_path / "whole"), drives=4, resume=False))
    real, calls = module.generate_drive, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the session ends mid-way
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "generate_drive", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_cache(str(tiny_vae), str(tmp_path / "parts"), drives=4, resume=False, batch_drives=2)
    assert len(open_cache(tmp_path / "parts")) == 4
    monkeypatch.setattr(module, "generate_drive", real)
    build_cache(str(tiny_vae), str(tmp_path / "parts"), drives=4, resume=True, batch_drives=2)
    parts = open_cache(tmp_path / "parts")
    assert len(parts) == 8
    assert np.array_equal(np.asarray(whole.latents), np.asarray(parts.latents))
    assert np.array_equal(whole.commands, parts.commands)


def test_first_drive_continues_the_drive_sequence_of_an_earlier_cache(tiny_vae, tmp_path):
    """A cache made from drive N on holds exactly the drives past an earlier cache of N drives."""
    whole = open_cache(build_cache(str(tiny_vae), str(tmp_path / "whole"), drives=4, resume=False))
    later = open_cache(build_cache(str(tiny_vae), str(tmp_path / "later"), drives=2, resume=False, first_drive=2))
    assert later.meta["first_drive"] == 2 and later.earlier.tolist() == [-1, 0, -1, 2]
    assert np.array_equal(np.asarray(later.latents), np.asarray(whole.latents[4:]))
    with np.load(tmp_path / "later" / "conditions.npz") as a, np.load(tmp_path / "whole" / "conditions.npz") as b:
        assert np.array_equal(a["seeds"], b["seeds"][4:])
    with pytest.raises(InputError, match="first drive"):
        build_cache(str(tiny_vae), str(tmp_path / "later"), drives=2, resume=True, first_drive=3)


def test_cli_errors(tmp_path, capsys):
    assert main(["--vae", str(tmp_path / "none"), "--out", str(tmp_path / "c"), "--drives", "1"]) == 2
    assert "no such checkpoint folder" in capsys.readouterr().err
    assert main(["--out", str(tmp_path / "c"), "--drives", "1", "--first-drive", "-1"]) == 2
    assert "--first-drive must be 0 or more" in capsys.readouterr().err
