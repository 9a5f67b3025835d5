"""Tests of grid resampling (majority of non-free voxels, unobserved rule) and ego → anchored conversion."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.data.resample import ego_to_anchored, poses_from_rows, read_pose_text, resample_to_grid
from core.types import GridSpec, InputError

FINE = GridSpec(1, (2, 2, 1), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
COARSE = GridSpec(1, (1, 1, 1), (2.0, 2.0, 1.0), (0.0, 0.0, 0.0))


def _coarse_cell(values: list[int], hidden: list[bool] | None = None) -> tuple[int, bool | None]:
    labels = np.array(values, dtype=np.uint8).reshape(1, 2, 2, 1)
    unobserved = None if hidden is None else np.array(hidden).reshape(1, 2, 2, 1)
    out, mask = resample_to_grid(labels, unobserved, FINE, COARSE)
    return int(out[0, 0, 0, 0]), None if mask is None else bool(mask[0, 0, 0, 0])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 1, 2, 0], 1),  # plain majority
        ([0, 0, 0, 5], 5),  # one pole voxel beats three free ones: free only when all are free
        ([0, 0, 0, 0], 0),
        ([0, 3, 3, 4], 3),  # majority among the non-free voxels
        ([2, 1, 0, 0], 1),  # a tie goes to the lower class id, deterministically
    ],
)
def test_majority_of_non_free_voxels(values: list[int], expected: int) -> None:
    assert _coarse_cell(values)[0] == expected


def test_unobserved_only_when_all_source_voxels_are() -> None:
    assert _coarse_cell([0, 0, 0, 0], [True, True, True, True])[1] is True
    assert _coarse_cell([0, 0, 0, 0], [True, True, True, False])[1] is False
    assert _coarse_cell([0, 0, 0, 0])[1] is None  # no mask in, every cell covered: no mask out


def test_cells_outside_the_source_are_free_and_unobserved() -> None:
    source = GridSpec(1, (2, 2, 1), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    target = GridSpec(1, (4, 2, 1), (1.0, 1.0, 1.0), (-2.0, 0.0, 0.0))
    labels = np.full((1, 2, 2, 1), 7, dtype=np.uint8)
    out, mask = resample_to_grid(labels, None, source, target)
    assert (out[0, :2] == 0).all() and mask[0, :2].all()
    assert (out[0, 2:] == 7).all() and not mask[0, 2:].any()


def test_finer_target_takes_the_voxel_under_each_cell() -> None:
    # Occ3D's 0.4 m layers into 0.375 m layers: no target layer may stay empty inside the source.
    source = GridSpec(1, (1, 1, 8), (1.0, 1.0, 0.4), (0.0, 0.0, -2.0))
    target = GridSpec(1, (1, 1, 8), (1.0, 1.0, 0.375), (0.0, 0.0, -2.0))
    labels = np.full((1, 1, 1, 8), 6, dtype=np.uint8)
    out, mask = resample_to_grid(labels, None, source, target)
    assert (out == 6).all() and mask is None


def test_carlasc_to_cpu_preset_halves_x_and_y() -> None:
    source, target = GridSpec.preset("carlasc").with_frames(2), GridSpec.preset("cpu").with_frames(2)
    labels = np.zeros((2, 128, 128, 8), dtype=np.uint8)
    labels[1, 10, 21, 3] = 4  # one pedestrian voxel survives the downsampling
    out, mask = resample_to_grid(labels, np.zeros(labels.shape, bool), source, target)
    assert out.shape == (2, 64, 64, 8) and not mask.any()
    assert out[1, 5, 10, 3] == 4 and int((out > 0).sum()) == 1


def test_wrong_shapes_are_input_errors() -> None:
    with pytest.raises(InputError, match=r"shape \(T, 2, 2, 1\)"):
        resample_to_grid(np.zeros((1, 3, 2, 1), np.uint8), None, FINE, COARSE)
    with pytest.raises(InputError, match="0 frames"):
        resample_to_grid(np.zeros((0, 2, 2, 1), np.uint8), None, FINE, COARSE)


grids = st.builds(
    lambda cells, size, origin: GridSpec(1, cells, size, origin),
    st.tuples(*[st.integers(1, 5)] * 3),
    st.tuples(*[st.sampled_from([0.2, 0.375, 0.4, 0.8, 1.0])] * 3),
    st.tuples(*[st.sampled_from([-25.6, -2.0, 0.0, 1.3])] * 3),
)


@settings(max_examples=40, deadline=None)
@given(grid=grids, frames=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_resampling_a_grid_to_itself_is_the_identity(grid: GridSpec, frames: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 12, (frames, *grid.cells)).astype(np.uint8)
    unobserved = rng.random(labels.shape) < 0.5
    out, mask = resample_to_grid(labels, unobserved, grid, grid)
    np.testing.assert_array_equal(out, labels)
    np.testing.assert_array_equal(mask, unobserved)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), density=st.floats(0.0, 0.5))
def test_downsampling_keeps_every_occupied_cell(seed: int, density: float) -> None:
    source = GridSpec(1, (8, 6, 4), (0.4, 0.4, 0.375), (-1.6, -1.2, -2.0))
    target = GridSpec(1, (4, 3, 4), (0.8, 0.8, 0.375), (-1.6, -1.2, -2.0))
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random((2, 8, 6, 4)) < density, rng.integers(1, 12, (2, 8, 6, 4)), 0).astype(np.uint8)
    out, _ = resample_to_grid(labels, None, source, target)
    occupied = labels.reshape(2, 4, 2, 3, 2, 4).max(axis=(2, 4)) > 0
    np.testing.assert_array_equal(out > 0, occupied)


SMALL = GridSpec(2, (8, 8, 2), (1.0, 1.0, 1.0), (-4.0, -4.0, 0.0))


def _pose(x: float = 0.0, y: float = 0.0, yaw: float = 0.0) -> np.ndarray:
    pose = np.eye(4)
    pose[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
    pose[:2, 3] = [x, y]
    return pose


def test_translation_by_one_cell_shifts_content_and_uncovers_a_strip() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(1, 12, (2, 8, 8, 2)).astype(np.uint8)
    poses = np.stack([_pose(), _pose(x=1.0)])  # the ego drove one cell forward
    out, mask = ego_to_anchored(labels, None, SMALL, poses)
    np.testing.assert_array_equal(out[0], labels[0])
    np.testing.assert_array_equal(out[1, 1:], labels[1, :-1])  # the world seen from frame 0 sits one cell ahead
    assert (out[1, 0] == 0).all() and mask[1, 0].all()  # behind frame 1's grid: free and unobserved
    assert not mask[0].any() and not mask[1, 1:].any()


def test_quarter_turn_rotates_the_frame() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 12, (2, 8, 8, 2)).astype(np.uint8)
    unobserved = rng.random(labels.shape) < 0.3
    poses = np.stack([_pose(), _pose(yaw=math.pi / 2)])  # frame 1 turned left by 90°
    out, mask = ego_to_anchored(labels, unobserved, SMALL, poses)
    # Frame 1's forward axis is frame 0's left axis: anchored[i, j] = ego[j, 7 - i].
    np.testing.assert_array_equal(out[1], np.rot90(labels[1], 1, axes=(0, 1)))
    np.testing.assert_array_equal(mask[1], np.rot90(unobserved[1], 1, axes=(0, 1)))


@settings(max_examples=30, deadline=None)
@given(x=st.floats(-50, 50), y=st.floats(-50, 50), yaw=st.floats(-math.pi, math.pi))
def test_frame_zero_is_unchanged_whatever_the_poses(x: float, y: float, yaw: float) -> None:
    labels = np.random.default_rng(2).integers(0, 12, (2, 8, 8, 2)).astype(np.uint8)
    base = _pose(x, y, yaw)
    out, mask = ego_to_anchored(labels, None, SMALL, np.stack([base, base @ _pose(x=0.3)]))
    np.testing.assert_array_equal(out[0], labels[0])
    assert not mask[0].any()


def test_pose_rows_and_files(tmp_path) -> None:
    rows = np.array([[1, 0, 0, 5, 0, 1, 0, 6, 0, 0, 1, 7]], dtype=float)
    poses = poses_from_rows(rows, where="test")
    assert poses.shape == (1, 4, 4) and poses[0, 3, 3] == 1 and list(poses[0, :3, 3]) == [5, 6, 7]
    path = tmp_path / "poses.txt"
    path.write_text("1 0 0 5 0 1 0 6 0 0 1 7\n\n1 0 0 1 0 1 0 2 0 0 1 3\n")
    assert read_pose_text(path).shape == (2, 4, 4)
    path.write_text("1 0 0 5 0 1 0 6\n")
    with pytest.raises(InputError, match="line 1 has 8 numbers"):
        read_pose_text(path)
    with pytest.raises(InputError, match="shape"):
        ego_to_anchored(np.zeros((2, 8, 8, 2), np.uint8), None, SMALL, np.zeros((3, 4, 4)))
