"""Camera presets: ego poses from the scene, image orientation (+X up / ahead, +Y left), motion."""

from __future__ import annotations

import numpy as np
import pytest

from core.render.camera import camera_views, ego_poses
from core.render.open3d_backend import pinhole_intrinsic
from core.types import InputError, OccupancySequence

WIDTH, HEIGHT = 640, 480


def project(view, point) -> np.ndarray:
    """Pixel (u, v) of a world point: u grows to the right, v downwards."""
    camera = view.world_to_camera() @ np.append(np.asarray(point, dtype=np.float64), 1.0)
    assert camera[2] > 0, "point is behind the camera"
    pixel = pinhole_intrinsic(WIDTH, HEIGHT, view.view_angle) @ camera[:3]
    return pixel[:2] / pixel[2]


def yawed_pose(x: float, y: float, yaw: float) -> np.ndarray:
    pose = np.eye(4)
    pose[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
    pose[:2, 3] = x, y
    return pose


def with_poses(scene: OccupancySequence, poses: np.ndarray | None, convention: str) -> OccupancySequence:
    return OccupancySequence(scene.labels, scene.grid, poses=poses, convention=convention)


def test_ego_poses_relative_to_frame_zero(tiny_scene):
    world = np.stack([yawed_pose(100.0, 50.0, 0.5), yawed_pose(100.0 + 2 * np.cos(0.5), 50.0 + 2 * np.sin(0.5), 0.8)])
    poses = ego_poses(with_poses(tiny_scene, world, "anchored"))
    np.testing.assert_allclose(poses, [[0, 0, 0], [2, 0, 0.3]], atol=1e-9)


def test_ego_poses_at_origin_without_poses_or_in_ego_convention(tiny_scene):
    world = np.stack([yawed_pose(0, 0, 0), yawed_pose(5, 1, 0.2)])
    for scene in (tiny_scene, with_poses(tiny_scene, world, "ego")):
        np.testing.assert_array_equal(ego_poses(scene), np.zeros((2, 3)))


def test_bev_puts_plus_x_up_and_plus_y_left(cpu_city):
    view = camera_views(cpu_city, "bev", WIDTH / HEIGHT)[0]
    centre = project(view, (0.0, 0.0, -1.6))
    ahead, left = project(view, (10.0, 0.0, -1.6)), project(view, (0.0, 10.0, -1.6))
    assert ahead[1] < centre[1] - 50 and abs(ahead[0] - centre[0]) < 1
    assert left[0] < centre[0] - 50 and abs(left[1] - centre[1]) < 1


def test_bev_shows_the_whole_grid(cpu_city):
    view = camera_views(cpu_city, "bev", WIDTH / HEIGHT)[0]
    x0, y0, z0 = cpu_city.grid.origin
    ex, ey, _ = cpu_city.grid.extent
    for corner in [(x0, y0, z0), (x0 + ex, y0, z0), (x0, y0 + ey, z0), (x0 + ex, y0 + ey, z0)]:
        u, v = project(view, corner)
        assert 0 <= u < WIDTH and 0 <= v < HEIGHT


def test_chase_follows_the_ego_and_keeps_plus_y_left(cpu_city):
    views = camera_views(cpu_city, "chase", WIDTH / HEIGHT)
    poses = ego_poses(cpu_city)
    for view, (x, y, _) in zip(views, poses):
        assert view.position[0] < x  # behind
        assert view.position[2] > cpu_city.grid.origin[2] + cpu_city.grid.extent[2]  # above the grid
        left_ahead = project(view, (x + 10.0, y + 3.0, -1.6))
        right_ahead = project(view, (x + 10.0, y - 3.0, -1.6))
        assert left_ahead[0] < WIDTH / 2 < right_ahead[0]
    assert views[-1].position[0] > views[0].position[0]


def test_chase_turns_with_the_ego_heading(tiny_scene):
    world = np.stack([yawed_pose(0, 0, 0), yawed_pose(0, 0, np.pi / 2)])
    views = camera_views(with_poses(tiny_scene, world, "anchored"), "chase")
    behind = np.subtract(views[1].position, views[1].focal_point)
    assert behind[1] < 0 and abs(behind[0]) < 1e-9  # heading +Y: the camera sits at -Y


def test_orbit_moves_around_the_centre(cpu_city):
    views = camera_views(cpu_city, "orbit")
    positions = np.array([v.position for v in views])
    assert len({tuple(np.round(p, 3)) for p in positions}) == cpu_city.num_frames
    radii = np.linalg.norm(positions[:, :2] - np.array(views[0].focal_point)[:2], axis=1)
    np.testing.assert_allclose(radii, radii[0])
    assert positions[0, 0] < views[0].focal_point[0]  # starts behind the grid, looking +X


def test_unknown_preset():
    with pytest.raises(InputError, match="unknown camera"):
        camera_views(None, "drone")


def test_long_scenes_place_every_clip_in_the_first_clips_frame():
    import numpy as np

    from core.render.camera import grid_to_display
    from core.types import GridSpec, OccupancySequence

    grid = GridSpec(8, (4, 4, 2), (0.8, 0.8, 0.375), (-1.6, -1.6, -0.375))
    poses = np.tile(np.eye(4), (8, 1, 1))
    poses[:, 0, 3] = np.arange(8.0)  # the ego drives 1 m per frame along x
    scene = OccupancySequence(np.zeros(grid.shape, np.uint8), grid, poses=poses, metadata={"clip_frames": 4})
    shifts = grid_to_display(scene)[:, 0, 3]
    assert shifts.tolist() == [0, 0, 0, 0, 4, 4, 4, 4]  # the second clip is anchored 4 m further on
    single = OccupancySequence(np.zeros(grid.shape, np.uint8), grid, poses=poses)
    assert np.allclose(grid_to_display(single), np.eye(4))
