"""Simulated LiDAR on a road-and-wall scene: ranges, heights, classes, dropout, seeds, files, errors."""

from __future__ import annotations

import dataclasses
import sys
import zipfile

import numpy as np
import pytest

from core.data.palette import CLASS, PALETTE
from core.export.lidar import (
    REFLECTIVITY, LidarSettings, beam_directions, export_scans, export_scans_zip, simulate_scans,
    write_kitti_bin, write_points_ply,
)
from core.render.backends import import_open3d
from core.types import InputError, OccupancySequence
from tests.export.conftest import GROUND_Z, WALL_GRID, WALL_X, moving_wall_scene, read_ply

# 16 beams × 180 azimuth steps: small enough to be quick, dense enough to see the wall and the road.
EXACT = LidarSettings(beams=16, horizontal_resolution_deg=2.0, dropout=0.0, noise_std=0.0)


def scan(scene: OccupancySequence, settings: LidarSettings = EXACT, seed: int = 0, frame: int = 0) -> np.ndarray:
    return simulate_scans(scene, settings, seed=seed, frames=[frame])[0]


def test_wall_and_road_are_hit_where_they_are(wall_scene):
    points = scan(wall_scene)
    assert points.shape[1] == 5 and points.dtype == np.float32
    building = points[points[:, 4] == CLASS["building"]]
    road = points[points[:, 4] == CLASS["road"]]
    assert len(building) > 100 and len(road) > 100 and len(building) + len(road) == len(points)
    np.testing.assert_allclose(building[:, 0], WALL_X, atol=1e-3)  # the wall's near face, seen head-on
    np.testing.assert_allclose(road[:, 2], GROUND_Z, atol=1e-3)  # the road's top, below the sensor at z = 0
    assert (road[:, 0] < WALL_X + 1e-3).all()  # the wall hides the road behind it


def test_noisy_hits_stay_within_a_voxel(wall_scene):
    points = scan(wall_scene, LidarSettings(beams=16, horizontal_resolution_deg=2.0))
    building = points[points[:, 4] == CLASS["building"]]
    assert np.abs(building[:, 0] - WALL_X).max() < WALL_GRID.voxel_size[0]


def test_intensity_is_reflectivity_times_incidence_cosine(wall_scene):
    points = scan(wall_scene)
    road = points[points[:, 4] == CLASS["road"]]
    cosine = -road[:, 2] / np.linalg.norm(road[:, :3], axis=1)  # the road's normal is +z
    np.testing.assert_allclose(road[:, 3], REFLECTIVITY[CLASS["road"]] * cosine, atol=1e-5)
    assert ((points[:, 3] >= 0) & (points[:, 3] <= 1)).all()


def test_dropout_halves_the_points(wall_scene):
    full = len(scan(wall_scene))
    half = len(scan(wall_scene, dataclasses.replace(EXACT, dropout=0.5)))
    assert 0.45 < half / full < 0.55


def test_same_seed_same_scan_other_seed_other_scan(wall_scene):
    settings = LidarSettings(beams=8, horizontal_resolution_deg=4.0)
    first, again = (simulate_scans(wall_scene, settings, seed=7) for _ in range(2))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], scan(wall_scene, settings, seed=8))
    np.testing.assert_array_equal(first[1], scan(wall_scene, settings, seed=7, frame=1))  # per-frame streams


def test_max_and_min_range_cut_points(wall_scene):
    points = scan(wall_scene, dataclasses.replace(EXACT, max_range=5.0, min_range=4.0))
    ranges = np.linalg.norm(points[:, :3], axis=1)
    assert len(points) and (ranges <= 5.0).all() and (ranges >= 4.0).all()
    assert not (points[:, 4] == CLASS["building"]).any()  # the wall is 6 m away


def test_points_are_in_the_moving_sensors_frame():
    # Frame 1: the ego has driven 2 m towards the wall (single anchored clip) → the wall is 4 m ahead.
    ahead = scan(moving_wall_scene(ego_x=2.0), frame=1)
    np.testing.assert_allclose(ahead[ahead[:, 4] == CLASS["building"]][:, 0], WALL_X - 2.0, atol=1e-3)
    # Turned to face +Y (left), the wall is on the sensor's right: y = -6 m.
    turned = scan(moving_wall_scene(ego_x=0.0, yaw=np.pi / 2), frame=1)
    np.testing.assert_allclose(turned[turned[:, 4] == CLASS["building"]][:, 1], -WALL_X, atol=1e-3)
    # A long scene anchors each clip at its own first ego pose: frame 1's grid already moved with the ego.
    anchored = scan(moving_wall_scene(ego_x=2.0, clip_frames=1), frame=1)
    np.testing.assert_allclose(anchored[anchored[:, 4] == CLASS["building"]][:, 0], WALL_X, atol=1e-3)


def test_ego_car_is_hidden_but_other_cars_are_seen(wall_scene):
    labels = wall_scene.labels.copy()
    labels[:, 15:25, 17:23, 1:5] = CLASS["vehicle"]  # a 5 m × 3 m car around the sensor, roof 0.125 m below it
    labels[:, 29:31, 19:21, 1:3] = CLASS["vehicle"]  # another car, 4.5 m ahead, apart from the ego
    scene = OccupancySequence(labels=labels, grid=WALL_GRID)
    seen = scan(scene)
    cars = seen[seen[:, 4] == CLASS["vehicle"]]
    assert len(cars) and (cars[:, 0] > 4.4).all()
    roof = scan(scene, dataclasses.replace(EXACT, hide_ego=False))
    assert (roof[:, 4] == CLASS["vehicle"]).sum() > len(cars)


def test_beam_pattern():
    settings = LidarSettings(beams=4, horizontal_resolution_deg=90.0, vertical_fov=(-30.0, 0.0))
    directions = beam_directions(settings)
    assert directions.shape == (16, 3)
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0)
    np.testing.assert_allclose(np.degrees(np.arcsin(directions[::4, 2])), [-30, -20, -10, 0], atol=1e-9)
    np.testing.assert_allclose(directions[:4, :2] / np.cos(np.radians(30)), [[1, 0], [0, 1], [-1, 0], [0, -1]],
                               atol=1e-9)


def test_files_round_trip(wall_scene, tmp_path):
    points = scan(wall_scene)
    kitti = np.fromfile(write_kitti_bin(points, tmp_path / "a.bin"), dtype=np.float32).reshape(-1, 4)
    np.testing.assert_array_equal(kitti, points[:, :4])
    path = write_points_ply(points, tmp_path / "a.ply")
    vertex = read_ply(path)["vertex"]
    np.testing.assert_array_equal(vertex["class"], points[:, 4].astype(np.uint8))
    np.testing.assert_array_equal(vertex["intensity"], points[:, 3])
    cloud = import_open3d().io.read_point_cloud(str(path))
    np.testing.assert_allclose(np.asarray(cloud.points), points[:, :3], atol=1e-6)
    colors = np.rint(np.asarray(cloud.colors) * 255).astype(np.uint8)
    np.testing.assert_array_equal(colors, PALETTE.colors[points[:, 4].astype(int)])


def test_export_folder_and_zip(wall_scene, tmp_path):
    settings = LidarSettings(beams=4, horizontal_resolution_deg=10.0)
    paths = export_scans(wall_scene, tmp_path / "scans", settings, seed=3)
    assert [p.name for p in paths] == ["000000.bin", "000000.ply", "000001.bin", "000001.ply"]
    archive = export_scans_zip(wall_scene, tmp_path / "scans.zip", settings, seed=3, frames=[1])
    with zipfile.ZipFile(archive) as opened:
        assert opened.namelist() == ["000001.bin", "000001.ply"]
        assert opened.read("000001.bin") == paths[2].read_bytes()


def test_empty_scene_gives_empty_scans_and_files(tmp_path):
    scene = OccupancySequence(labels=np.zeros(WALL_GRID.shape, np.uint8), grid=WALL_GRID)
    assert [s.shape for s in simulate_scans(scene, EXACT, seed=0)] == [(0, 5), (0, 5)]
    paths = export_scans(scene, tmp_path, EXACT, seed=0, frames=[0])
    assert paths[0].stat().st_size == 0 and len(read_ply(paths[1])["vertex"]) == 0


@pytest.mark.parametrize("overrides, message", [
    ({"beams": 0}, "beams"), ({"beams": 2.5}, "beams"), ({"beams": True}, "beams"),
    ({"max_range": 0.0}, "max_range"), ({"max_range": -5.0}, "max_range"), ({"max_range": float("inf")}, "finite"),
    ({"dropout": 1.0}, "dropout"), ({"dropout": -0.1}, "dropout"),
    ({"min_range": 60.0}, "min_range"), ({"noise_std": -0.01}, "noise_std"),
    ({"horizontal_resolution_deg": 0.0}, "horizontal_resolution_deg"),
    ({"vertical_fov": (3.0, -25.0)}, "vertical_fov"), ({"vertical_fov": (-25.0,)}, "vertical_fov"),
    ({"beams": 512, "horizontal_resolution_deg": 0.01}, "rays per frame"),
])
def test_bad_settings_are_input_errors(overrides, message):
    with pytest.raises(InputError, match=message):
        LidarSettings(**overrides)


def test_bad_calls_are_input_errors(wall_scene, tmp_path):
    with pytest.raises(InputError, match="seed"):
        simulate_scans(wall_scene, EXACT, seed=-1)
    with pytest.raises(InputError, match="LidarSettings"):
        simulate_scans(wall_scene, {"beams": 4}, seed=0)
    with pytest.raises(InputError, match="out of range"):
        export_scans(wall_scene, tmp_path, EXACT, seed=0, frames=[5])
    with pytest.raises(InputError, match="points"):
        write_kitti_bin(np.zeros((3, 3), np.float32), tmp_path / "x.bin")
    assert not any(tmp_path.iterdir())


def test_missing_open3d_says_what_to_install(wall_scene, monkeypatch):
    monkeypatch.setitem(sys.modules, "open3d", None)  # makes `import open3d` fail
    with pytest.raises(InputError, match="pip install open3d"):
        scan(wall_scene)
