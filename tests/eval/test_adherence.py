"""Adherence metrics on procedural ground truth (they must score it well) and on cases built to fail."""

import numpy as np
import pytest

from core.data.palette import PALETTE
from core.data.procedural import generate_clip, split_seed, static_bev_layout
from core.eval import adherence
from core.types import GridSpec, OccupancySequence

GRID = GridSpec.preset("cpu")


@pytest.fixture(scope="module")
def clip():
    return generate_clip(split_seed("test", 4), grid=GRID, command="left")


def test_layout_iou_is_high_for_the_true_scene_and_low_for_another(clip):
    assert adherence.layout_iou(clip.layout.static, clip.scene)["mean"] > 0.98
    other = generate_clip(split_seed("test", 9), grid=GRID, command="right")
    assert adherence.layout_iou(clip.layout.static, other.scene)["mean"] < 0.6


def test_tracking_the_ego_follows_the_true_path(clip):
    result = adherence.trajectory_adherence(clip.scene, clip.trajectory)
    assert result.final_error < 0.5 and result.position_error.max() < 0.6 and result.heading_error.max() < 0.3
    assert result.command_match and result.recovered_command.name == "LEFT"
    assert result.found_share == 1.0 and result.on_road_share == 1.0 and not result.collision


def test_a_scene_without_the_ego_car_fails_the_trajectory(clip):
    labels = clip.scene.labels.copy()
    labels[labels == PALETTE.class_id("vehicle")] = 0
    result = adherence.trajectory_adherence(OccupancySequence(labels, GRID), clip.trajectory)
    assert result.found_share == 0.0 and result.final_error > 5.0 and not result.command_match


def test_a_shifted_rotated_map_registers_to_its_motion():
    static = static_bev_layout(generate_clip(split_seed("test", 2), grid=GRID).scene.labels[0])
    shifted = np.zeros_like(static)
    shifted[:-3, 2:] = static[3:, :-2]  # after[x, y] = before[x + 3, y - 2]
    assert adherence.register(static, shifted, yaws=np.array([0.0]))[:2] == (3, -2)
    dx, dy, yaw = adherence.register(static, static)
    assert (dx, dy, yaw) == (0, 0, 0.0)


def test_ego_motion_of_an_ego_clip_follows_its_trajectory():
    clip = generate_clip(split_seed("test", 3), grid=GRID, convention="ego", command="forward")
    recovered = adherence.ego_motion(clip.scene, max_shift=4)
    travelled = np.linalg.norm(clip.trajectory.poses[-1, :2])
    assert np.linalg.norm(recovered[-1, :2] - clip.trajectory.poses[-1, :2]) < max(2.0, 0.2 * travelled)


def test_outside_unchanged_and_seams(clip):
    scene = clip.scene
    mask = np.zeros(GRID.cells[:2], bool)
    mask[20:40, 20:40] = True
    inside_changed = scene.labels.copy()
    inside_changed[:, 20:40, 20:40] = PALETTE.class_id("building")
    changed = OccupancySequence(inside_changed, GRID)
    assert adherence.outside_unchanged(scene, changed, mask) == 1.0
    assert adherence.outside_unchanged(scene, changed, np.zeros_like(mask)) < 1.0
    assert adherence.outside_unchanged(scene, changed, mask, range(0, 4)) < 1.0
    # roads may end at the border by chance: the source's own rate is the reference, not 1
    assert adherence.seam_continuity(scene, mask) > 0.8
    assert adherence.seam_continuity(changed, mask) < 0.2
