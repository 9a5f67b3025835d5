"""Vehicle specks: which blobs count as specks, what replaces them, and the grid's car size; cars redrawn
as boxes."""

import numpy as np
import pytest

from core.data.procedural import generate_clip
from core.eval.geometry import blobs
from core.postprocess import (FREE, VEHICLE, blob_box, min_car_cells, on_axis, remove_vehicle_specks, vehicle_boxes,
                              vehicle_specks)
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


def drive(starts, y=5, frames=None):
    """(frames, 32, 12, 3) road (frames: len(starts) unless given) with a 5 × 2 car on layer 1 whose
    front-left cell is at x = starts[t], row y (None: the car is missing in that frame)."""
    labels = np.full((frames or len(starts), 32, 12, 3), FREE, np.uint8)
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


def test_a_car_seen_in_a_few_frames_inside_the_grid_is_dropped_wherever_in_the_clip():
    popup = drive([None, None, None, 10, 10, 10, None, None])  # three frames, mid-clip, away from the edge
    assert not (vehicle_boxes(popup, np.full_like(popup, BUILDING), GRID_TRACKS) == VEHICLE).any()
    changed = vehicle_boxes(popup, np.full_like(popup, BUILDING), GRID_TRACKS) != popup
    assert np.array_equal(changed, popup == VEHICLE)  # its voxels take the fallback, nothing else changes
    for early in ([10, 10, None, None, None, None, None, None], [None, None, None, None, None, 10, 10, 10]):
        labels = drive(early)  # at the clip's start or end too: too few boxes to say where it went
        assert not (vehicle_boxes(labels, np.zeros_like(labels), GRID_TRACKS) == VEHICLE).any()
    at_edge = drive([None, None, None, None, None, 0, 0, 0])  # cut by the grid's edge: it may be driving in
    assert np.array_equal(vehicle_boxes(at_edge, np.zeros_like(at_edge), GRID_TRACKS), at_edge)


def cells_from(x, y=5):
    return {(i, j) for i in range(x, x + 5) for j in (y, y + 1)}


def test_a_car_that_appears_or_vanishes_inside_the_grid_is_continued_to_the_clip_ends():
    late = drive([None] * 8 + [12, 13, 14, 15, 16, 17, 18, 19])  # half a 16-frame clip, a cell a frame
    boxed = car_cells(vehicle_boxes(late, np.zeros_like(late), GRID_TRACKS))
    assert [boxed[t] for t in range(8)] == [cells_from(4 + t) for t in range(8)]  # where it came from
    assert all(boxed[t] == car_cells(late)[t] for t in range(8, 16))
    parked = drive([10] * 8 + [None] * 8)  # stands still, then is gone
    assert all(cells == cells_from(10) for cells in car_cells(vehicle_boxes(parked, np.zeros_like(parked), GRID_TRACKS)))
    entering = drive([None] * 8 + [2, 4, 6, 8, 10, 12, 14, 16])  # by the edge: it drove in, as far as the grid goes
    boxed = car_cells(vehicle_boxes(entering, np.zeros_like(entering), GRID_TRACKS))
    assert boxed[7] == cells_from(0) and boxed[6] == {(i, j) for i in range(3) for j in (5, 6)}
    assert boxed[5] == {(0, 5), (0, 6)} and boxed[4] == set()
    shorter = drive([None] * 9 + [12, 13, 14, 15, 16, 17, 18])  # seen in 7 frames: kept as it is, not continued
    assert np.array_equal(vehicle_boxes(shorter, np.zeros_like(shorter), GRID_TRACKS), shorter)


def test_a_continued_car_stops_where_it_would_meet_something():
    late = drive([None] * 8 + [12, 13, 14, 15, 16, 17, 18, 19])
    late[5, 9, 5, 1] = BUILDING  # in its way at frame 5
    late[6, 12, 6, 2] = BUILDING  # above the way at frame 6: not on the car's layers, not in its way
    boxed = vehicle_boxes(late, np.zeros_like(late), GRID_TRACKS)
    assert [car_cells(boxed)[t] for t in (6, 7)] == [cells_from(10), cells_from(11)]
    assert not (boxed[:6] == VEHICLE).any() and boxed[5, 9, 5, 1] == BUILDING


def test_cars_side_by_side_keep_a_gap_and_one_found_twice_is_drawn_once():
    beside = np.full((1, 12, 12, 3), FREE, np.uint8)
    beside[0, 2:8, 2:4, 0] = VEHICLE  # a car two cells wide (box: rows 2, 3)
    beside[0, 2:8, 5, 0] = VEHICLE  # a sliver a row apart, whose box would take rows 4 to 6
    boxed = vehicle_boxes(beside, np.zeros_like(beside), GRID_08)[0] == VEHICLE
    assert len(blobs(boxed.any(axis=2))) == 2 and not boxed[:, 4].any()  # still a row apart: two cars
    twice = np.full((1, 12, 12, 3), FREE, np.uint8)
    twice[0, 2:8, 2, 0] = VEHICLE  # two slivers of one car (boxes: rows 1 to 3 and 3 to 5)
    twice[0, 2:8, 4, 0] = VEHICLE
    boxed = (vehicle_boxes(twice, np.zeros_like(twice), GRID_08)[0] == VEHICLE).any(axis=2)
    assert len(blobs(boxed)) == 1 and boxed.sum() == 18


def test_a_jump_off_a_car_s_track_is_smoothed_back_onto_it():
    labels = drive([4, 6, 8, 10, 12, 14, 16, 18])
    labels[4] = drive([None] * 4 + [12], y=8, frames=5)[4]  # one frame three rows to the side
    boxed = vehicle_boxes(labels, np.zeros_like(labels), GRID_TRACKS)
    assert car_cells(boxed)[4] == {(x, y) for x in range(12, 17) for y in (5, 6)}  # where its neighbours put it
    assert all(car_cells(boxed)[t] == car_cells(labels)[t] for t in (0, 1, 2, 3, 5, 6, 7))  # the jump bends nothing


def test_a_moving_car_points_where_it_goes():
    labels = np.full((8, 32, 12, 3), FREE, np.uint8)
    labels[..., 0] = ROAD
    for t in range(8):
        labels[t, 4 + 3 * t:6 + 3 * t, 3:8, 1] = VEHICLE  # a blob 5 long across its way, moving 3 cells a frame
    boxed = car_cells(vehicle_boxes(labels, np.zeros_like(labels), GRID_TRACKS))
    # turned along x: 5 long about its centre (4.5 + 3t, 5), a car wide (2.25 cells: rows 4 to 6)
    assert all(cells == {(x, y) for x in range(2 + 3 * t, 8 + 3 * t) for y in (4, 5, 6)}
               for t, cells in enumerate(boxed))


def test_a_heading_close_to_an_axis_is_put_on_it_and_others_are_kept():
    assert on_axis(np.radians(3)) == 0 and on_axis(np.pi - np.radians(4)) == pytest.approx(np.pi)
    assert on_axis(np.pi / 2 + np.radians(2)) == pytest.approx(np.pi / 2) and on_axis(np.radians(30)) == np.radians(30)
