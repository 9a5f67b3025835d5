"""The shipped VAE bundle loads and reconstructs a held-out procedural scene (fast: one clip)."""

from pathlib import Path

import numpy as np

from core.checkpoint import load_bundle
from core.data.procedural import generate_clip, split_seed
from core.eval.recon import evaluate_reconstruction

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "vae_cpu"


def test_shipped_vae_reconstructs_a_held_out_scene():
    model = load_bundle(SHIPPED, kind="hexplane-vae")
    assert model.config.compression_ratio >= 8
    clip = generate_clip(split_seed("test", 5)).scene
    report = evaluate_reconstruction(model, [clip])
    assert report.miou > 0.85 and report.binary_iou > 0.9
    assert np.isfinite(list(report.per_class.values())).all()
