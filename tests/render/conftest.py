"""Small hand-built scenes for the rendering tests: a city street seen by an ego car driving along +X.

Built with numpy directly (not the procedural generator) so the tests know where every class is.
Anchored convention: frame 0's ego sits at the grid's metric origin (the centre of a cpu-preset grid)
and drives +X in the right-hand lane (around y = 0); the oncoming lane is at y > 0. A building stands
ahead on the right (y < 0), a tree on the left (y > 0), a pole on the right-hand sidewalk.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.data.palette import CLASS
from core.types import GridSpec, OccupancySequence

TINY_GRID = GridSpec(frames=2, cells=(8, 8, 4), voxel_size=(0.8, 0.8, 0.375), origin=(-3.2, -3.2, -1.0))


def _static_city(cells: tuple[int, int, int]) -> np.ndarray:
    """(X, Y, Z) uint8: ground layer with a road along X, sidewalks, a building, a tree and a pole."""
    nx, ny, nz = cells
    mid_x, mid_y = nx // 2, ny // 2
    world = np.zeros(cells, dtype=np.uint8)
    world[:, :, 0] = CLASS["ground"]
    world[:, mid_y - 5:mid_y + 7, 0] = CLASS["sidewalk"]
    world[:, mid_y - 3:mid_y + 5, 0] = CLASS["road"]
    world[mid_x + 4:mid_x + 16, 4:mid_y - 8, 1:nz - 2] = CLASS["building"]
    world[mid_x + 8, mid_y + 10, 1:nz - 3] = CLASS["vegetation"]
    world[mid_x + 7:mid_x + 10, mid_y + 9:mid_y + 12, nz - 3:nz - 1] = CLASS["vegetation"]
    world[mid_x - 6, mid_y - 5, 1:nz - 1] = CLASS["pole"]
    return world


def ego_rear_index(t: int, grid: GridSpec) -> int:
    """Lattice x of the ego car's rear in frame t: it drives a third of the grid over the clip."""
    nx = grid.cells[0]
    return nx // 2 - 2 + (t * nx // 3) // max(grid.frames - 1, 1)


def city_scene(grid: GridSpec) -> OccupancySequence:
    """An anchored scene on `grid` (needs ≥ 48×48×6 cells) whose poses follow the ego car."""
    nx, ny, _ = grid.cells
    mid_y = ny // 2
    labels = np.repeat(_static_city(grid.cells)[None], grid.frames, axis=0)
    poses = np.repeat(np.eye(4)[None], grid.frames, axis=0)
    for t in range(grid.frames):
        ego = ego_rear_index(t, grid)
        labels[t, ego:ego + 5, mid_y - 1:mid_y + 1, 1:3] = CLASS["vehicle"]
        oncoming = nx - 8 - 2 * t
        labels[t, oncoming:oncoming + 5, mid_y + 2:mid_y + 4, 1:3] = CLASS["vehicle"]
        poses[t, 0, 3] = (ego - ego_rear_index(0, grid)) * grid.voxel_size[0]
    return OccupancySequence(labels=labels, grid=grid, poses=poses, convention="anchored")


@pytest.fixture(scope="session")
def cpu_city() -> OccupancySequence:
    return city_scene(GridSpec.preset("cpu"))


@pytest.fixture(scope="session")
def tiny_scene() -> OccupancySequence:
    labels = np.zeros(TINY_GRID.shape, dtype=np.uint8)
    labels[:, :, :, 0] = CLASS["road"]
    labels[:, 2:4, 2:4, 1:3] = CLASS["building"]
    labels[0, 5:7, 5, 1] = CLASS["vehicle"]
    labels[1, 6:8, 5, 1] = CLASS["vehicle"]
    return OccupancySequence(labels=labels, grid=TINY_GRID)
