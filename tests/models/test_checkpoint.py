"""Model bundles: save → load gives identical outputs; broken or mismatched bundles fail clearly."""

import json

import pytest
import torch

from core.checkpoint import bundle_hash, load_bundle, save_bundle
from core.config import vae_preset
from core.models.vae import HexPlaneVAE
from core.types import InputError


@pytest.fixture
def bundle(tmp_path):
    torch.manual_seed(0)
    model = HexPlaneVAE(vae_preset("tiny")).eval()
    return model, save_bundle(model, tmp_path / "vae", kind="hexplane-vae", notes={"steps": 3})


def test_round_trip_gives_identical_outputs(bundle):
    model, folder = bundle
    loaded = load_bundle(folder, kind="hexplane-vae")
    labels = torch.randint(0, 12, (1, 4, 8, 8, 4), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model(labels, sample=False)[0], loaded(labels, sample=False)[0])
    assert loaded.config == model.config and len(bundle_hash(folder)) == 16
    meta = json.loads((folder / "config.json").read_text())
    assert meta["kind"] == "hexplane-vae" and meta["class_names"][6] == "road" and meta["notes"]["steps"] == 3


def test_float16_bundle_loads_close(bundle, tmp_path):
    model, _ = bundle
    half = save_bundle(model, tmp_path / "half", kind="hexplane-vae", dtype=torch.float16)
    loaded = load_bundle(half, kind="hexplane-vae")
    assert next(loaded.parameters()).dtype == torch.float32
    assert (half / "model.safetensors").stat().st_size < 0.6 * (bundle[1] / "model.safetensors").stat().st_size


def test_wrong_kind_missing_and_corrupt_files(bundle, tmp_path):
    _, folder = bundle
    with pytest.raises(InputError, match="expected 'hexplane-dit'"):
        load_bundle(folder, kind="hexplane-dit")
    with pytest.raises(InputError, match="no such checkpoint folder"):
        load_bundle(tmp_path / "nothing", kind="hexplane-vae")
    (folder / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(InputError, match="unreadable weights"):
        load_bundle(folder, kind="hexplane-vae")
    (folder / "config.json").write_text("{oops")
    with pytest.raises(InputError, match="not valid JSON"):
        load_bundle(folder, kind="hexplane-vae")
    (folder / "config.json").unlink()
    with pytest.raises(InputError, match="config.json is missing"):
        load_bundle(folder, kind="hexplane-vae")


def test_weights_that_do_not_fit_the_config(bundle, tmp_path):
    _, folder = bundle
    meta = json.loads((folder / "config.json").read_text())
    meta["config"]["latent_channels"] = 6
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="has shape .* the config needs"):
        load_bundle(folder, kind="hexplane-vae")
    meta["config"]["colour"] = 1
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="unknown VAEConfig option"):
        load_bundle(folder, kind="hexplane-vae")
