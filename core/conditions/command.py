"""The driving command of a clip, derived from its ego trajectory with sane thresholds.

The reference release labels a clip a turn when its yaw changes by more than 0.0025 rad, which makes
nearly every clip a turn. Here a clip is STATIC when the ego moves less than `static_distance` metres,
LEFT / RIGHT when its heading turns by more than `turn_yaw` radians (Y is left, so positive yaw is left),
and FORWARD otherwise.
"""

from __future__ import annotations

import numpy as np

from core.types import Command, Trajectory

STATIC_DISTANCE_M = 1.5
TURN_YAW_RAD = 0.35  # about 20 degrees


def command_from_trajectory(
    trajectory: Trajectory, *, static_distance: float = STATIC_DISTANCE_M, turn_yaw: float = TURN_YAW_RAD
) -> Command:
    poses = trajectory.poses
    steps = np.linalg.norm(np.diff(poses[:, :2], axis=0), axis=1)
    if steps.sum() < static_distance:
        return Command.STATIC
    yaw_change = float(np.unwrap(poses[:, 2])[-1] - poses[0, 2])
    if yaw_change > turn_yaw:
        return Command.LEFT
    if yaw_change < -turn_yaw:
        return Command.RIGHT
    return Command.FORWARD
