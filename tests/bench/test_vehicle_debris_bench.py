"""bench/vehicle_debris.py: the noise-free path is the VAE's reconstruction; noise changes the decoded scene."""

import numpy as np
import pytest
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


def test_planes_taken_from_the_sample_are_those_named_and_no_others():
    from types import SimpleNamespace

    from bench.vehicle_debris import plane_errors, with_planes_of
    from core.models.hexplane import PLANES, rollout, unroll

    sizes = (2, 6, 6, 2)  # T', X', Y', Z'
    pipeline = SimpleNamespace(dit=SimpleNamespace(config=SimpleNamespace(latent_sizes=sizes)),
                               decode=lambda rolled: rolled.clone())  # "decoding" keeps the latent, to compare
    service = SimpleNamespace(_load=lambda: pipeline)
    real = rollout(unroll(torch.zeros(1, 3, 10, 10), sizes))  # zero, its padding as the rollout makes it
    made = rollout(unroll(torch.randn(1, 3, 10, 10, generator=torch.Generator().manual_seed(0)), sizes))
    [mixed] = with_planes_of(service, [(real, made)], ("tx", "ty"))
    planes, sampled = unroll(mixed, sizes).planes(), unroll(made, sizes).planes()
    for name in PLANES:
        expected = sampled[name] if name in ("tx", "ty") else torch.zeros_like(sampled[name])
        assert torch.equal(planes[name], expected), name
    [whole] = with_planes_of(service, [(real, made)], PLANES)
    assert torch.equal(whole, made)
    assert "tz 0.00" not in plane_errors(service, [(real, made)]) and "xy" in plane_errors(service, [(real, made)])
    assert plane_errors(service, [(made, made)]).count("0.00") == len(PLANES)


def test_a_row_takes_the_debris_apart_into_specks_ragged_blobs_and_blobs_the_edge_cuts_and_tracks_the_cars():
    from bench.vehicle_debris import HEADER, row
    from core.postprocess import VEHICLE
    from core.types import GridSpec

    grid = GridSpec(frames=2, cells=(12, 12, 2), voxel_size=(0.8, 0.8, 0.5), origin=(0, 0, 0), num_classes=12)
    labels = np.zeros(grid.shape, np.uint8)
    labels[:, 2:5, 2:4, 0] = VEHICLE  # a car (6 cells) in both frames
    labels[0, 8, 8:10, :] = VEHICLE  # a speck of 2 cells, 4 voxels
    labels[1, 0, 6:8, 0] = VEHICLE  # a piece the edge cuts
    labels[1, 7, 3:9, 1] = VEHICLE  # a streak: 6 cells in a row, one wide
    fields = row("test", [labels], grid).split()
    named = dict(zip(HEADER.replace("debris %", "debris").replace("vehicle %", "vehicle").replace("median cells", "median")
                     .replace("in specks %", "in_specks").replace("ragged %", "ragged").split()[1:], map(float, fields[1:])))
    assert named == pytest.approx({"debris": 40.0, "vehicle": 100 * 24 / labels.size, "median": 6.0, "cars": 1.5,
                                   "ragged": 100 / 3, "specks": 0.5, "cut": 0.5, "in_specks": 100 * 4 / 24,
                                   "breaks": 0.5, "accel": 0.0}, abs=0.06)  # the streak starts inside the grid
