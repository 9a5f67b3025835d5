"""bench/vehicle_debris.py: the noise-free path is the VAE's reconstruction; noise changes the decoded scene."""

import numpy as np
import torch

from bench.vehicle_debris import noisy_reconstructions
from core.config import dit_preset, vae_preset
from core.eval.recon import reconstruct
from core.models.vae import HexPlaneVAE


def test_noise_free_latents_decode_to_the_reconstruction_and_noise_changes_them():
    torch.manual_seed(0)
    vae = HexPlaneVAE(vae_preset("tiny")).eval()
    channels = vae.config.latent_channels
    config = dit_preset("tiny", latent_mean=(0.0,) * channels, latent_std=(1.0,) * channels)
    scenes = [np.random.default_rng(seed).integers(0, 12, (vae.config.frames, *vae.config.cells), dtype=np.uint8) for seed in (0, 1)]
    clean = noisy_reconstructions(vae, config, scenes, 0.0)
    assert all(np.array_equal(a, b) for a, b in zip(clean, reconstruct(vae, scenes)))
    noisy = noisy_reconstructions(vae, config, scenes, 5.0)
    assert any(not np.array_equal(a, b) for a, b in zip(clean, noisy))
