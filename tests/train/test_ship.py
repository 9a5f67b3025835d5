"""Shipping a bundle: float16 weights, notes kept and extended, the same predictions to bf16 precision."""

import json

import torch

from core.checkpoint import load_bundle, save_bundle
from core.config import vae_preset
from core.models.vae import HexPlaneVAE
from core.train.ship import main


def test_ship_halves_the_weights_and_keeps_notes(tmp_path):
    torch.manual_seed(0)
    model = HexPlaneVAE(vae_preset("tiny"))
    source = save_bundle(model, tmp_path / "best", kind="hexplane-vae", notes={"steps": 7})
    assert main([str(source), str(tmp_path / "shipped"), "--kind", "hexplane-vae", "--note", "miou=0.9"]) == 0
    meta = json.loads((tmp_path / "shipped" / "config.json").read_text())
    assert meta["weights_dtype"] == "float16" and meta["notes"]["steps"] == 7 and meta["notes"]["miou"] == 0.9
    shipped = load_bundle(tmp_path / "shipped", kind="hexplane-vae")
    for name, tensor in model.state_dict().items():
        assert torch.allclose(shipped.state_dict()[name], tensor, atol=1e-3, rtol=1e-3), name
    assert main([str(tmp_path / "none"), str(tmp_path / "x"), "--kind", "hexplane-vae"]) == 2
