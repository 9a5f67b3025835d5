"""Drawings → conditions: layouts, masks and waypoint trajectories."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core.conditions.command import command_from_trajectory
from core.conditions.drawings import (
    grid_from_image, image_from_grid, layout_from_image, layout_image, load_trajectory, mask_from_image,
    metres_to_pixel, pixel_to_metres, trajectory_from_waypoints,
)
from core.data.palette import PALETTE
from core.types import Command, GridSpec, InputError, Layout

GRID = GridSpec(16, (16, 12, 8), (0.8, 0.8, 0.375), (-6.4, -4.8, -2.0))


@settings(max_examples=30, deadline=None)
@given(arrays(np.uint8, (16, 12), elements=st.integers(0, 11)))
def test_layout_survives_picture_round_trip(static):
    picture = layout_image(Layout(static))
    assert np.array_equal(layout_from_image(picture, GRID).static, static)
    enlarged = np.kron(picture, np.ones((5, 5, 1), np.uint8))  # the app shows the canvas enlarged
    assert np.array_equal(layout_from_image(enlarged, GRID).static, static)


def test_picture_orientation_x_up_y_left():
    static = np.zeros((16, 12), np.uint8)
    static[15, 11] = PALETTE.class_id("road")  # largest x and y: top-left of the picture
    picture = image_from_grid(static)
    assert picture[0, 0] == static[15, 11] and np.array_equal(grid_from_image(picture), static)
    assert pixel_to_metres(0, 0, (16, 12), GRID) == pytest.approx((6.4, 4.8))
    assert pixel_to_metres(16, 12, (16, 12), GRID) == pytest.approx((-6.4, -4.8))


@given(st.floats(-6.4, 6.4), st.floats(-4.8, 4.8))
def test_metres_to_pixel_inverts_pixel_to_metres(x, y):
    row, col = metres_to_pixel(x, y, (32, 12), GRID)  # neither the picture nor the grid is square
    assert pixel_to_metres(row, col, (32, 12), GRID) == pytest.approx((x, y), abs=1e-9)
    assert 0 <= row <= 32 and 0 <= col <= 12


def test_off_palette_strokes_snap_to_the_nearest_class():
    picture = np.zeros((16, 12, 4), np.uint8)
    picture[..., :3] = PALETTE.colors[PALETTE.class_id("sidewalk")] - np.array([5, 3, 6], np.uint8)
    picture[..., 3] = 255
    picture[:4, :, 3] = 0  # unpainted rows
    static = layout_from_image(picture, GRID).static
    assert set(np.unique(static)) == {0, PALETTE.class_id("sidewalk")}


def test_mask_from_picture_and_empty_mask():
    picture = np.zeros((32, 24, 4), np.uint8)
    picture[:8, :, :] = 255
    mask = mask_from_image(picture, GRID)
    assert mask.shape == (16, 12) and mask[-1].all() and not mask[0].any()
    with pytest.raises(InputError, match="mask is empty"):
        mask_from_image(np.zeros((32, 24, 4), np.uint8), GRID)
    with pytest.raises(InputError, match="drawing must"):
        mask_from_image(np.zeros((3,), np.uint8), GRID)


def test_straight_and_turning_waypoints():
    straight = trajectory_from_waypoints(np.array([[0, 0], [30, 0]]), frames=16, speed=5, frame_interval=0.2)
    assert straight.poses.shape == (16, 3) and np.allclose(straight.poses[:, 0], np.arange(16))
    assert command_from_trajectory(straight) is Command.FORWARD
    left = trajectory_from_waypoints(np.array([[0, 0], [8, 0], [8, 10]]), frames=16, speed=5, frame_interval=0.2)
    assert command_from_trajectory(left) is Command.LEFT and left.poses[-1, 1] > 0
    shifted = trajectory_from_waypoints(np.array([[3, 2], [3, -20]]), frames=16, speed=4, frame_interval=0.2)
    assert np.allclose(shifted.poses[:, 1], 0) and shifted.poses[-1, 0] == pytest.approx(12)  # relative to start
    assert command_from_trajectory(trajectory_from_waypoints(np.array([[0, 0], [1, 0]]), frames=16, speed=0,
                                                             frame_interval=0.2)) is Command.STATIC


def test_bad_waypoints():
    with pytest.raises(InputError, match="at least 2 waypoints"):
        trajectory_from_waypoints(np.array([[0, 0]]), frames=16, speed=5, frame_interval=0.2)
    with pytest.raises(InputError, match="all at one place"):
        trajectory_from_waypoints(np.array([[1, 1], [1, 1]]), frames=16, speed=5, frame_interval=0.2)
    with pytest.raises(InputError, match="NaN"):
        trajectory_from_waypoints(np.array([[0, 0], [np.nan, 1]]), frames=16, speed=5, frame_interval=0.2)


def test_trajectory_json(tmp_path):
    poses = tmp_path / "poses.json"
    poses.write_text(json.dumps({"poses": np.zeros((16, 3)).tolist()}))
    assert load_trajectory(poses, frames=16).poses.shape == (16, 3)
    with pytest.raises(InputError, match="must have 32 poses"):
        load_trajectory(poses, frames=32)
    waypoints = tmp_path / "waypoints.json"
    waypoints.write_text(json.dumps({"waypoints": [[0, 0], [20, 0]], "speed": 4}))
    assert load_trajectory(waypoints, frames=16).poses[-1, 0] == pytest.approx(12)
    (tmp_path / "bad.json").write_text("[1, 2")
    with pytest.raises(InputError, match="not a readable trajectory JSON"):
        load_trajectory(tmp_path / "bad.json", frames=16)
