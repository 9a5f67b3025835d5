"""Vehicle specks: which blobs count as specks, what replaces them, and the grid's car size; cars redrawn
as boxes."""

import numpy as np
import pytest

from core.data.procedural import generate_clip
from core.postprocess import FREE, VEHICLE, blob_box, min_car_cells, remove_vehicle_specks, vehicle_boxes, vehicle_specks
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


GRID_08 = GridSpec(frames=1, cells=(12, 12, 3), voxel_size=(0.8, 0.8, 0.5), origin=(0, 0, 0), num_classes=12)


@pytest.mark.parametrize("yaw", [0.0, 0.5, np.pi / 2, 2.0])
def test_a_filled_rectangle_of_cells_gives_itself_back(yaw):
    along, across = np.meshgrid(np.arange(7) - 3.0, np.arange(3) - 1.0, indexing="ij")
    cells = np.stack([along * np.cos(yaw) - across * np.sin(yaw), along * np.sin(yaw) + across * np.cos(yaw)], -1)
    pose, length, width = blob_box(cells.reshape(-1, 2) + [5, 4], min_length=1, min_width=1)
    assert np.allclose(pose[:2], [5, 4]) and length == pytest.approx(7) and width == pytest.approx(3)
    assert np.isclose(np.cos(2 * (pose[2] - yaw)), 1)  # the long side's heading, either way along it
    assert blob_box(np.array([[2.0, 2], [3, 2], [4, 2]]), min_length=5, min_width=2.25)[1:] == (5, 2.25)  # a car at least


def test_a_ragged_car_becomes_a_solid_box_between_its_median_bottom_and_top():
    labels = np.full((1, 12, 12, 3), FREE, np.uint8)
    labels[0, :, :, 0] = ROAD
    labels[0, 3:8, 4, 1:3] = VEHICLE  # a one-cell-wide car, 5 long, with a bite out of the other side
    labels[0, 3:6, 5, 1] = VEHICLE
    labels[0, 7, 5, 2] = VEHICLE  # a floating piece, above the median bottom
    fallback = np.full(labels.shape, FREE, np.uint8)
    boxed = vehicle_boxes(labels, fallback, GRID_08)
    footprint = (boxed[0] == VEHICLE).any(axis=2)
    assert footprint[3:8, 4:6].all() and footprint.sum() == 10  # 5 × 2 cells: as long as the blob, a car wide
    assert (boxed[0, 3:8, 4:6, 1:3] == VEHICLE).all()
    assert np.array_equal(boxed[0, :, :, 0], labels[0, :, :, 0])  # the road under it stays


def test_boxes_fill_only_free_voxels_and_the_blob_own_and_leave_real_scenes_nearly_as_they_were():
    labels = np.full((1, 12, 12, 3), FREE, np.uint8)
    labels[0, 3:9, 4, 0] = VEHICLE
    labels[0, 3:9, 5, 0] = BUILDING  # beside the thin car: the box stays out of it
    labels[0, 0:2, 0:6, 0] = VEHICLE  # a car the grid's edge cuts, a rectangle already: its box is cut there too
    fallback = np.full(labels.shape, ROAD, np.uint8)
    boxed = vehicle_boxes(labels, fallback, GRID_08)
    assert (boxed[0, 3:9, 5, 0] == BUILDING).all() and np.array_equal(boxed[0, 0:2], labels[0, 0:2])
    assert (boxed[0, 3:9, 3:5, 0] == VEHICLE).all() and (boxed[0] == VEHICLE).sum() == 12 + 12  # 3 wide, 1 built
    assert np.array_equal(vehicle_boxes(labels, fallback, GRID_08, editable=np.zeros(labels.shape, bool)), labels)
    scene = generate_clip(2001).scene  # real cars are boxes already: drawn again, they hardly move
    before = scene.labels == VEHICLE
    after = vehicle_boxes(scene.labels, np.zeros_like(scene.labels), scene.grid) == VEHICLE
    assert before.any() and (before & after).sum() / (before | after).sum() > 0.97


GRID_TRACKS = GridSpec(frames=8, cells=(32, 12, 3), voxel_size=(0.8, 0.8, 0.5), origin=(0, 0, 0), num_classes=12)


def drive(starts, y=5, frames=8):
    """(frames, 32, 12, 3) road with a 5 × 2 car on layer 1 whose front-left cell is at x = starts[t],
    row y (None: the car is missing in that frame)."""
    labels = np.full((frames, 32, 12, 3), FREE, np.uint8)
    labels[..., 0] = ROAD
    for t, x in enumerate(starts):
        if x is not None:
            labels[t, x:x + 5, y:y + 2, 1] = VEHICLE
    return labels


def car_cells(labels):
    """Per frame, the (x, y) cells of its vehicles seen from above."""
    return [set(map(tuple, np.argwhere((frame == VEHICLE).any(axis=2)))) for frame in labels]


def test_a_car_missing_for_a_few_frames_is_drawn_where_its_track_puts_it():
    labels = drive([4, 6, 8, None, None, 14, 16, 18])  # 2 cells a frame, gone for two frames
    boxed = vehicle_boxes(labels, np.zeros_like(labels), GRID_TRACKS)
    assert car_cells(boxed)[3] == {(x, y) for x in range(10, 15) for y in (5, 6)}
    assert car_cells(boxed)[4] == {(x, y) for x in range(12, 17) for y in (5, 6)}
    assert all(car_cells(boxed)[t] == car_cells(labels)[t] for t in (0, 1, 2, 5, 6, 7))  # on its track: its own cells
    assert (boxed[..., 0] == ROAD).all()


def test_a_car_that_pops_up_and_vanishes_inside_the_grid_is_dropped_and_one_at_the_clip_ends_is_kept():
    popup = drive([None, None, None, 10, 10, 10, None, None])  # three frames, mid-clip, away from the edge
    assert not (vehicle_boxes(popup, np.full_like(popup, BUILDING), GRID_TRACKS) == VEHICLE).any()
    changed = vehicle_boxes(popup, np.full_like(popup, BUILDING), GRID_TRACKS) != popup
    assert np.array_equal(changed, popup == VEHICLE)  # its voxels take the fallback, nothing else changes
    for early in ([10, 10, None, None, None, None, None, None], [None, None, None, None, None, 10, 10, 10]):
        labels = drive(early)  # seen only at the clip's start or end: it may be there before or after
        assert np.array_equal(vehicle_boxes(labels, np.zeros_like(labels), GRID_TRACKS), labels)


def test_a_jump_off_a_car_s_track_is_smoothed_back_onto_it():
    labels = drive([4, 6, 8, 10, 12, 14, 16, 18])
    labels[4] = drive([None] * 4 + [12], y=8, frames=5)[4]  # one frame three rows to the side
    boxed = vehicle_boxes(labels, np.zeros_like(labels), GRID_TRACKS)
    assert car_cells(boxed)[4] == {(x, y) for x in range(12, 17) for y in (5, 6)}  # where its neighbours put it
    assert all(car_cells(boxed)[t] == car_cells(labels)[t] for t in (0, 1, 2, 6, 7))


def test_a_heading_close_to_an_axis_is_put_on_it_and_others_are_kept():
    from core.postprocess import on_axis

    assert on_axis(np.radians(3)) == 0 and on_axis(np.pi - np.radians(4)) == pytest.approx(np.pi)
    assert on_axis(np.pi / 2 + np.radians(2)) == pytest.approx(np.pi / 2) and on_axis(np.radians(30)) == np.radians(30)
