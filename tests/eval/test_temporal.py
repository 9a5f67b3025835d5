"""Temporal consistency: ground truth does not flicker; noise, jitter and vanishing cars are caught."""

import numpy as np
import pytest

from core.data.palette import PALETTE
from core.data.procedural import generate_clip, split_seed
from core.eval.temporal import flicker_rate, vehicle_debris, vehicle_tracks
from core.types import GridSpec, OccupancySequence

GRID = GridSpec.preset("cpu")
VEHICLE = PALETTE.class_id("vehicle")


@pytest.fixture(scope="module")
def clip():
    return generate_clip(split_seed("test", 1), grid=GRID)


def test_static_classes_do_not_flicker_in_the_ground_truth_and_noise_is_seen(clip):
    assert flicker_rate(clip.scene) == 0.0
    labels = clip.scene.labels.copy()
    noise = (np.random.default_rng(0).random(labels.shape) < 0.02) & (labels == PALETTE.class_id("building"))
    labels[noise] = PALETTE.class_id("vegetation")
    assert flicker_rate(OccupancySequence(labels, GRID)) > 0.001


def _car_scene(centres: list[tuple[int, int] | None]) -> OccupancySequence:
    labels = np.zeros((len(centres), *GRID.cells), np.uint8)
    labels[:, :, :, 0] = PALETTE.class_id("road")
    for t, centre in enumerate(centres):
        if centre is not None:
            x, y = centre
            labels[t, x - 3: x + 3, y - 1: y + 2, 1:3] = VEHICLE
    return OccupancySequence(labels, GRID.with_frames(len(centres)))


def test_vehicle_tracks_measure_smoothness_and_breaks():
    smooth = vehicle_tracks(_car_scene([(10 + 2 * t, 30) for t in range(8)]))
    assert len(smooth.tracks) == 1 and smooth.mean_acceleration == pytest.approx(0, abs=1e-9) and smooth.break_rate == 0
    jitter = vehicle_tracks(_car_scene([(10 + 2 * t, 30 + (t % 2)) for t in range(8)]))
    assert jitter.mean_acceleration > 10
    vanishing = vehicle_tracks(_car_scene([(20 + t, 30) for t in range(4)] + [None] * 4))
    assert vanishing.break_rate == 1.0


def test_vehicle_debris_counts_the_blobs_smaller_than_a_car(clip):
    whole = _car_scene([(10 + 2 * t, 30) for t in range(4)])
    assert vehicle_debris(whole) == 0.0
    labels = whole.labels.copy()
    labels[:, 50, 10, 1] = labels[:, 40, 50, 1] = labels[:, 55, 55, 2] = VEHICLE  # three one-voxel fragments a frame
    assert vehicle_debris(OccupancySequence(labels, whole.grid)) == pytest.approx(3 / 4)
    assert vehicle_debris(_car_scene([None, None])) == 0.0  # no vehicles: nothing broken
    assert vehicle_debris(clip.scene) < 0.2  # the procedural ground truth: whole cars, a few cut by the edge
