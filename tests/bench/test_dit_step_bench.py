"""bench/dit_step.py: one training step and one guided pass are measured per DiT size; a finer patch has more tokens."""

import torch

from bench.dit_step import measure
from core.checkpoint import save_bundle
from core.config import vae_preset
from core.models.vae import HexPlaneVAE
from core.train.cache_latents import build_cache, open_cache


def test_measure_times_a_training_step_and_a_guided_pass_for_each_patch(tmp_path):
    torch.manual_seed(0)
    vae = save_bundle(HexPlaneVAE(vae_preset("tiny")), tmp_path / "vae", kind="hexplane-vae")
    cache = open_cache(build_cache(str(vae), str(tmp_path / "cache"), drives=2, resume=False))
    coarse = measure(cache, "tiny", {}, steps=1, out=tmp_path / "run")
    fine = measure(cache, "tiny", {"patch": 1}, steps=1, out=tmp_path / "run")
    assert fine["tokens"] == 4 * coarse["tokens"]
    for figures in (coarse, fine):
        assert figures["parameters"] > 0 and figures["train"] > 0 and figures["guided"] > 0
