"""Vehicle specks: which blobs count as specks, what replaces them, and the grid's car size."""

import numpy as np
import pytest

from core.postprocess import VEHICLE, min_car_cells, remove_vehicle_specks, vehicle_specks
from core.types import GridSpec

ROAD, BUILDING = 9, 5  # any two other classes


def frame_with(*boxes):
    """One frame (T=1) of 12×12×3 road with vehicle boxes (x0, x1, y0, y1) on the ground layer."""
    labels = np.full((1, 12, 12, 3), ROAD, np.uint8)
    for x0, x1, y0, y1 in boxes:
        labels[0, x0:x1, y0:y1, 0] = VEHICLE
    return labels


def test_small_interior_blobs_are_specks_cars_and_blobs_cut_by_the_edge_are_not():
    labels = frame_with((2, 5, 2, 4), (8, 9, 8, 10), (0, 1, 6, 8), (6, 7, 2, 3))  # car 6 cells, specks of 2 and 1, edge 2
    specks = vehicle_specks(labels, 6)
    assert specks.sum() == 3
    assert specks[0, 8, 8:10, 0].all() and specks[0, 6, 2, 0]
    assert not specks[0, 2:5, 2:4].any() and not specks[0, 0, 6:8].any()
    smaller = vehicle_specks(labels, 2)
    assert smaller.sum() == 1 and smaller[0, 6, 2, 0]  # with a 2-cell car, only the 1-cell speck


def test_removal_relabels_only_speck_voxels_from_the_fallback():
    labels = frame_with((2, 5, 2, 4), (8, 9, 8, 10))
    labels[0, 8, 8, 2] = BUILDING  # another class above a speck stays
    fallback = np.full(labels.shape, BUILDING, np.uint8)
    cleaned = remove_vehicle_specks(labels, fallback, 6)
    changed = cleaned != labels
    assert changed.sum() == 2 and (cleaned[changed] == BUILDING).all()
    assert (cleaned[0, 2:5, 2:4, 0] == VEHICLE).all()
    assert cleaned.dtype == labels.dtype
    assert np.array_equal(remove_vehicle_specks(labels, fallback, 6, editable=np.zeros(labels.shape, bool)), labels)


def test_specks_are_found_per_frame():
    labels = np.concatenate([frame_with((2, 5, 2, 4)), frame_with((2, 3, 2, 4))])  # the car, then a piece of it
    specks = vehicle_specks(labels, 6)
    assert not specks[0].any() and specks[1].sum() == 2


@pytest.mark.parametrize("size, cells", [(0.8, 6), (0.4, 24), (4.0, 1)])
def test_the_smallest_car_in_cells_of_a_grid(size, cells):
    grid = GridSpec(frames=2, cells=(8, 8, 4), voxel_size=(size, size, 0.5), origin=(0, 0, 0), num_classes=12)
    assert min_car_cells(grid) == cells
