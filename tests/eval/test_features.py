"""The scene feature network on a tiny grid: shapes, targets, learning, the bundle, bad input."""

import numpy as np
import pytest
import torch

from core.checkpoint import load_bundle, save_bundle
from core.config import FEATURE_PRESETS, grid_for
from core.data.palette import PALETTE
from core.eval.features import SceneFeatureNet, extract_features, scene_targets, target_loss
from core.eval.train_features import corrupted_batch, make_pool
from core.types import InputError

CONFIG = FEATURE_PRESETS["tiny"]


@pytest.fixture(scope="module")
def pool():
    return make_pool(grid_for(CONFIG.frames, CONFIG.cells), "train", 8)


def test_targets_count_objects_and_motion():
    labels = np.zeros((4, 8, 8, 4), np.uint8)
    labels[:, :, :, 0] = PALETTE.class_id("road")
    labels[0, 1:3, 1:3, 1] = labels[0, 5:7, 5:7, 1] = PALETTE.class_id("vehicle")  # two cars in frame 0
    targets = scene_targets(labels, command=2, corruption=3, strength=0.5)
    assert targets["corruption"] == 3 and targets["strength"] == 0.5
    assert targets["command"] == 2 and targets["counts"][0] == pytest.approx(np.log1p(2) / 3)
    assert targets["counts"][1] == 0 and targets["motion"] > 0  # the cars vanish after frame 0
    assert targets["shares"][0] > targets["shares"][PALETTE.class_id("vehicle")] > 0


def test_features_have_the_configured_size_and_training_lowers_the_loss(pool):
    torch.manual_seed(0)
    model = SceneFeatureNet(CONFIG)
    labels, targets = corrupted_batch(pool, np.random.default_rng(0))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        volume, bird_eye = model(labels)
        loss = target_loss(volume, targets, CONFIG.num_commands) + target_loss(bird_eye, targets, CONFIG.num_commands)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]
    volume, bird_eye = extract_features(model, [labels for labels, _ in pool], batch=3)
    assert volume.shape == bird_eye.shape == (8, CONFIG.features)


def test_bundle_round_trip_and_wrong_scene_shape(pool, tmp_path):
    model = SceneFeatureNet(CONFIG)
    save_bundle(model, tmp_path / "features", kind="scene-features")
    loaded = load_bundle(tmp_path / "features", kind="scene-features")
    scenes = [labels for labels, _ in pool[:2]]
    assert np.allclose(extract_features(model, scenes)[0], extract_features(loaded, scenes)[0])
    with pytest.raises(InputError, match="takes scenes of shape"):
        extract_features(loaded, [np.zeros((4, 8, 8, 2), np.uint8)])
