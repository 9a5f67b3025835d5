"""Command derivation from the ego trajectory."""

import numpy as np
import pytest

from core.conditions.command import command_from_trajectory
from core.types import Command, Trajectory


def arc(total_yaw: float, length: float = 15.0, frames: int = 16) -> Trajectory:
    yaw = np.linspace(0.0, total_yaw, frames)
    step = length / (frames - 1)
    x = np.concatenate([[0.0], np.cumsum(step * np.cos(yaw[:-1]))])
    y = np.concatenate([[0.0], np.cumsum(step * np.sin(yaw[:-1]))])
    return Trajectory(np.stack([x, y, yaw], axis=1))


@pytest.mark.parametrize(
    "trajectory, expected",
    [
        (arc(0.0), Command.FORWARD),
        (arc(0.1), Command.FORWARD),
        (arc(np.pi / 2), Command.LEFT),
        (arc(-np.pi / 2), Command.RIGHT),
        (arc(np.pi / 2, length=0.5), Command.STATIC),
        (Trajectory(np.zeros((16, 3))), Command.STATIC),
    ],
)
def test_command_thresholds(trajectory, expected):
    assert command_from_trajectory(trajectory) is expected


def test_yaw_wraparound_is_a_small_turn():
    trajectory = arc(0.1)
    poses = trajectory.poses.copy()
    poses[:, 2] += np.pi - 0.05  # heading crosses the ±π seam
    poses[:, 2] = (poses[:, 2] + np.pi) % (2 * np.pi) - np.pi
    assert command_from_trajectory(Trajectory(poses)) is Command.FORWARD


@pytest.mark.parametrize("command", list(Command))
def test_typical_path_realises_its_command(command):
    from core.data.scenario import typical_path

    path = typical_path(command, frames=32, clip_frames=16, frame_interval=0.2, seed=3)
    assert path.poses.shape == (32, 3) and np.allclose(path.poses[0], 0.0)
    assert command_from_trajectory(Trajectory(path.poses[:16])) is command
    again = typical_path(command, frames=32, clip_frames=16, frame_interval=0.2, seed=3)
    assert np.array_equal(path.poses, again.poses)
    if command is not Command.STATIC:
        other = typical_path(command, frames=32, clip_frames=16, frame_interval=0.2, seed=4)
        assert not np.allclose(path.poses, other.poses)
