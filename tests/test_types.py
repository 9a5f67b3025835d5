"""Core types: presets, validation messages, class counts."""

import numpy as np
import pytest

from core.types import Command, GridSpec, InputError, Layout, OccupancySequence, RenderSettings, Trajectory


def tiny_grid(frames: int = 2) -> GridSpec:
    return GridSpec(frames, (4, 3, 2), (0.8, 0.8, 0.375), (-1.6, -1.2, -0.375))


def test_presets_match_design():
    cpu, carla = GridSpec.preset("cpu"), GridSpec.preset("carlasc")
    assert cpu.shape == (16, 64, 64, 8) and cpu.voxel_size == (0.8, 0.8, 0.375)
    assert carla.shape == (16, 128, 128, 8) and carla.voxel_size == (0.4, 0.4, 0.375)
    assert cpu.extent == pytest.approx((51.2, 51.2, 3.0)) == carla.extent


def test_unknown_preset_names_choices():
    with pytest.raises(InputError, match="unknown grid preset 'gpu'.*cpu, carlasc"):
        GridSpec.preset("gpu")


def test_grid_round_trips_through_dict():
    grid = GridSpec.preset("cpu")
    assert GridSpec.from_dict(grid.to_dict()) == grid
    with pytest.raises(InputError, match="unknown grid fields"):
        GridSpec.from_dict({**grid.to_dict(), "colour": 1})


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.zeros((2, 4, 3), np.uint8), "4D"),
        (np.zeros((2, 4, 3, 3), np.uint8), r"shape \(2, 4, 3, 2\)"),
        (np.zeros((2, 4, 3, 2), np.int32), "dtype uint8, got int32"),
        (np.full((2, 4, 3, 2), 12, np.uint8), "found class id 12"),
    ],
)
def test_sequence_rejects_bad_labels(labels, message):
    with pytest.raises(InputError, match=message):
        OccupancySequence(labels, tiny_grid())


def test_sequence_rejects_zero_frames():
    with pytest.raises(InputError, match="0 frames"):
        OccupancySequence(np.zeros((0, 4, 3, 2), np.uint8), tiny_grid())


def test_sequence_rejects_bad_poses_and_mask():
    labels = np.zeros((2, 4, 3, 2), np.uint8)
    with pytest.raises(InputError, match="poses must have shape"):
        OccupancySequence(labels, tiny_grid(), poses=np.zeros((3, 4, 4)))
    with pytest.raises(InputError, match="unobserved must have dtype bool"):
        OccupancySequence(labels, tiny_grid(), unobserved=np.zeros(labels.shape, np.uint8))
    with pytest.raises(InputError, match="convention"):
        OccupancySequence(labels, tiny_grid(), convention="world")


def test_class_counts_per_frame():
    labels = np.zeros((2, 4, 3, 2), np.uint8)
    labels[0, 0, 0, 0] = 6
    labels[1, :, :, 0] = 10
    counts = OccupancySequence(labels, tiny_grid()).class_counts()
    assert counts.shape == (2, 12)
    assert counts[0, 6] == 1 and counts[0, 0] == 23 and counts[1, 10] == 12 and counts.sum() == 48


def test_command_parse():
    assert Command.parse("left") is Command.LEFT and Command.parse(Command.STATIC) is Command.STATIC
    with pytest.raises(InputError, match="unknown command 'up'"):
        Command.parse("up")


def test_condition_types_validate():
    with pytest.raises(InputError, match=r"\(T, 3\)"):
        Trajectory(np.zeros((16, 2)))
    with pytest.raises(InputError, match="layout"):
        Layout(np.zeros((4, 4), np.int64))
    with pytest.raises(InputError, match="vehicle occupancy"):
        Layout(np.zeros((4, 4), np.uint8), vehicles=np.zeros((2, 4, 5), bool))
    with pytest.raises(InputError, match="unknown camera"):
        RenderSettings(camera="drone")
