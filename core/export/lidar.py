"""Simulated spinning LiDAR scans of a scene, by ray casting its voxel surfaces with Open3D.

At each frame a sensor sits at the ego's pose and fires `beams` lasers spread over the vertical field of
view, at every azimuth step of one full turn. Rays are cast (Open3D's `t.geometry.RaycastingScene`,
CPU, headless) against the frame's exposed-face mesh — the surface the videos show. A ray returns a
point when it hits within [min_range, max_range]; each return is dropped with probability `dropout`,
its range gets Gaussian noise, and its intensity is a fixed reflectivity of the hit class times the
cosine of the incidence angle (the Lambertian fall-off of a diffuse surface).

The sensor: at the ego's x, y and heading in each frame (`camera.ego_poses`; pitch and roll are
ignored, as the cameras do), at `sensor_height` metres above the ego frame's origin. The grids of this
project put the sensor at that origin (the ground is ≈ 1.6 m below it), so the default height is 0.
The ego car's own voxels are hidden from the rays (`hide_ego`), as real datasets mask the car a sensor
is mounted on; otherwise its roof, a hand's width below the sensor, would swallow every downward beam.
A sensor inside another occupied voxel sees that voxel's inner faces: `min_range` trims those.

Points are (N, 5) float32 rows x, y, z, intensity, class in the sensor's frame (KITTI convention:
x forward, y left, z up), ordered beam by beam (lowest beam first), each beam in azimuth order.
An empty scene is not an error: it gives scans with no points, and valid empty files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from core.data.palette import CLASS, PALETTE
from core.export.files import (
    PathLike, check_scene, frame_name, select_frames, write_file, write_folder, write_zip,
)
from core.export.ply import ply_bytes
from core.render.backends import import_open3d
from core.render.camera import ego_poses, grid_to_display
from core.render.mesh import exposed_faces
from core.types import GridSpec, InputError, OccupancySequence

POINT_COLUMNS: tuple[str, ...] = ("x", "y", "z", "intensity", "class")
MAX_RAYS_PER_FRAME = 2_000_000  # ~ 256 beams at 0.05°: beyond that a typo, not a sensor
EGO_REACH = 3.5  # metres around the sensor within which the ego car's voxels are hidden (a 4.6 m car + a voxel)

# Near-infrared (905 nm) reflectivity in 0..1 per class: dark asphalt low, vegetation and painted metal high.
_REFLECTIVITY_BY_NAME: dict[str, float] = {
    "free": 0.0, "building": 0.35, "barrier": 0.45, "other": 0.3, "pedestrian": 0.3, "pole": 0.5,
    "road": 0.12, "ground": 0.35, "sidewalk": 0.25, "vegetation": 0.5, "vehicle": 0.6, "bicycle": 0.4,
}
REFLECTIVITY: np.ndarray = np.array([_REFLECTIVITY_BY_NAME.get(n, 0.3) for n in PALETTE.names], np.float32)


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise InputError(f"{name} must be finite, got {value}")
    return float(value)


@dataclass(frozen=True)
class LidarSettings:
    """A spinning LiDAR: `beams` lasers over `vertical_fov` (degrees, lower, upper; both ends included),
    one turn in steps of `horizontal_resolution_deg`, returns within [min_range, max_range] metres,
    `dropout` chance of losing each return, `noise_std` metres of range noise, the sensor `sensor_height`
    metres above the ego frame's origin, and the ego car's own voxels hidden when `hide_ego`."""

    beams: int = 32
    horizontal_resolution_deg: float = 0.4
    vertical_fov: tuple[float, float] = (-25.0, 3.0)
    max_range: float = 50.0
    min_range: float = 0.5
    dropout: float = 0.05
    noise_std: float = 0.01
    sensor_height: float = 0.0
    hide_ego: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.beams, bool) or not isinstance(self.beams, (int, np.integer)) or not 1 <= self.beams <= 512:
            raise InputError(f"beams must be an integer in 1..512, got {self.beams!r}")
        resolution = _finite("horizontal_resolution_deg", self.horizontal_resolution_deg)
        if not 0.01 <= resolution <= 360:
            raise InputError(f"horizontal_resolution_deg must be in 0.01..360 degrees, got {resolution}")
        self._check_fov()
        if not 0 < _finite("max_range", self.max_range):
            raise InputError(f"max_range must be > 0 metres, got {self.max_range}")
        if not 0 <= _finite("min_range", self.min_range) < self.max_range:
            raise InputError(f"min_range must be in 0..max_range ({self.max_range}) metres, got {self.min_range}")
        if not 0 <= _finite("dropout", self.dropout) < 1:
            raise InputError(f"dropout must be in [0, 1) (a share of returns lost), got {self.dropout}")
        if not 0 <= _finite("noise_std", self.noise_std):
            raise InputError(f"noise_std must be >= 0 metres, got {self.noise_std}")
        _finite("sensor_height", self.sensor_height)
        if self.rays_per_frame > MAX_RAYS_PER_FRAME:
            raise InputError(f"{self.beams} beams × {self.azimuth_steps} azimuth steps = {self.rays_per_frame} "
                             f"rays per frame; at most {MAX_RAYS_PER_FRAME} are allowed")

    def _check_fov(self) -> None:
        fov = self.vertical_fov
        if isinstance(fov, (str, bytes)) or not hasattr(fov, "__len__") or len(fov) != 2:
            raise InputError(f"vertical_fov must be (lower, upper) degrees, got {fov!r}")
        lower, upper = _finite("vertical_fov lower", fov[0]), _finite("vertical_fov upper", fov[1])
        if not -90 <= lower <= upper <= 90 or (self.beams > 1 and lower == upper):
            raise InputError(f"vertical_fov must have -90 <= lower < upper <= 90 degrees, got ({lower}, {upper})")
        object.__setattr__(self, "vertical_fov", (lower, upper))

    @property
    def azimuth_steps(self) -> int:
        """Rays per beam in one turn."""
        return max(1, round(360.0 / self.horizontal_resolution_deg))

    @property
    def rays_per_frame(self) -> int:
        return int(self.beams) * self.azimuth_steps


def beam_directions(settings: LidarSettings) -> np.ndarray:
    """(beams · azimuth_steps, 3) unit ray directions in the sensor frame, beam-major, lowest beam first.

    One beam points at the middle of the field of view; azimuth starts straight ahead and turns left.
    """
    lower, upper = np.radians(settings.vertical_fov)
    elevation = np.linspace(lower, upper, settings.beams) if settings.beams > 1 else np.array([(lower + upper) / 2])
    azimuth = np.arange(settings.azimuth_steps) * (2 * np.pi / settings.azimuth_steps)
    elevation, azimuth = np.meshgrid(elevation, azimuth, indexing="ij")  # (beams, steps)
    cos_el = np.cos(elevation)
    directions = np.stack([cos_el * np.cos(azimuth), cos_el * np.sin(azimuth), np.sin(elevation)], axis=-1)
    return directions.reshape(-1, 3)


def sensor_poses(scene: OccupancySequence, settings: LidarSettings) -> np.ndarray:
    """(T, 4, 4) pose of the sensor in each frame's own grid frame (grid-from-sensor)."""
    poses = np.tile(np.eye(4), (scene.num_frames, 1, 1))
    x, y, yaw = ego_poses(scene).T  # in the first clip's frame, where grid_to_display points
    poses[:, 0, 0], poses[:, 0, 1] = np.cos(yaw), -np.sin(yaw)
    poses[:, 1, 0], poses[:, 1, 1] = np.sin(yaw), np.cos(yaw)
    poses[:, 0, 3], poses[:, 1, 3], poses[:, 2, 3] = x, y, settings.sensor_height
    return np.linalg.inv(grid_to_display(scene)) @ poses


def _grow6(region: np.ndarray) -> np.ndarray:
    """The region plus its 6-connected neighbours (bool, same shape)."""
    grown = region.copy()
    for axis in range(3):
        grown[(slice(None),) * axis + (slice(1, None),)] |= region[(slice(None),) * axis + (slice(None, -1),)]
        grown[(slice(None),) * axis + (slice(None, -1),)] |= region[(slice(None),) * axis + (slice(1, None),)]
    return grown


def ego_voxels(labels: np.ndarray, grid: GridSpec, sensor_xy: np.ndarray) -> np.ndarray:
    """(X, Y, Z) bool: the vehicle voxels connected to the column under the sensor, within EGO_REACH.

    Flood-filled rather than boxed so that whatever shape a generated ego car has is removed whole;
    bounded so that a car touching it loses at most its part within reach, not its whole body.
    """
    mask = np.zeros(labels.shape, dtype=bool)
    cell = np.floor((sensor_xy - np.asarray(grid.origin[:2])) / np.asarray(grid.voxel_size[:2])).astype(int)
    if not all(0 <= c < n for c, n in zip(cell, grid.cells[:2])):
        return mask
    reach = [math.ceil(EGO_REACH / size) for size in grid.voxel_size[:2]]
    window = tuple(slice(max(c - r, 0), c + r + 1) for c, r in zip(cell, reach))
    vehicle = labels[window] == CLASS["vehicle"]  # (wx, wy, Z)
    seed_at = tuple(c - w.start for c, w in zip(cell, window))
    region = np.zeros_like(vehicle)
    region[seed_at] = vehicle[seed_at]
    while region.any():
        grown = _grow6(region) & vehicle
        if (grown == region).all():
            break
        region = grown
    mask[window] = region
    return mask


def _raycast(
    o3d: ModuleType, vertices: np.ndarray, triangles: np.ndarray, rays: np.ndarray,
) -> dict[str, np.ndarray]:
    """Open3D ray cast of (N, 6) float32 origin+direction rays: t_hit, primitive_ids, primitive_normals."""
    raycaster = o3d.t.geometry.RaycastingScene()
    raycaster.add_triangles(o3d.core.Tensor.from_numpy(np.ascontiguousarray(vertices, np.float32)),
                            o3d.core.Tensor.from_numpy(np.ascontiguousarray(triangles, np.uint32)))
    hits = raycaster.cast_rays(o3d.core.Tensor.from_numpy(rays))
    return {key: hits[key].numpy() for key in ("t_hit", "primitive_ids", "primitive_normals")}


def _points(local: np.ndarray, world: np.ndarray, hits: dict[str, np.ndarray], classes_of_faces: np.ndarray,
            settings: LidarSettings, rng: np.random.Generator) -> np.ndarray:
    """Ray-cast hits → (N, 5) points: range gate, dropout, range noise, intensity, class."""
    distance = hits["t_hit"]  # inf where a ray hit nothing; directions are unit, so t is the range
    keep = (distance >= settings.min_range) & (distance <= settings.max_range)
    keep &= rng.random(len(distance)) >= settings.dropout
    distance = distance[keep] + rng.normal(0.0, settings.noise_std, int(keep.sum()))
    classes = classes_of_faces[hits["primitive_ids"][keep] // 2]  # triangles 2f, 2f + 1 belong to face f
    cosine = np.abs(np.einsum("ij,ij->i", world[keep], hits["primitive_normals"][keep]))
    intensity = np.clip(REFLECTIVITY[classes] * cosine, 0.0, 1.0)
    xyz = local[keep] * np.maximum(distance, 0.0)[:, None]
    return np.column_stack([xyz, intensity, classes]).astype(np.float32)


def scan_frame(o3d: ModuleType, scene: OccupancySequence, frame: int, settings: LidarSettings, pose: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
    """(N, 5) float32 points of one frame seen from the grid-from-sensor `pose`."""
    labels = scene.labels[frame]
    if settings.hide_ego:
        labels = np.where(ego_voxels(labels, scene.grid, pose[:2, 3]), 0, labels).astype(np.uint8)
    mesh = exposed_faces(labels, scene.grid)
    if mesh.num_faces == 0:
        return np.zeros((0, len(POINT_COLUMNS)), np.float32)
    local = beam_directions(settings)  # (R, 3) sensor frame
    world = local @ pose[:3, :3].T  # (R, 3) grid frame
    rays = np.concatenate([np.broadcast_to(pose[:3, 3], world.shape), world], axis=1).astype(np.float32)
    hits = _raycast(o3d, mesh.vertices, mesh.triangles(), rays)
    return _points(local, world, hits, mesh.face_class, settings, rng)


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def simulate_scans(
    scene: OccupancySequence, settings: LidarSettings | None = None, *, seed: int,
    frames: Iterable[int] | None = None,
) -> list[np.ndarray]:
    """One (N, 5) float32 scan (x, y, z, intensity, class; sensor frame) per frame (all, or the listed ones).

    Frame t's randomness comes from `np.random.default_rng([seed, t])`, so a frame's scan is the same
    whichever other frames are simulated with it.
    """
    check_scene(scene)
    settings = LidarSettings() if settings is None else settings
    if not isinstance(settings, LidarSettings):
        raise InputError(f"settings must be LidarSettings, got {type(settings).__name__}")
    seed = _check_seed(seed)
    chosen = select_frames(scene, frames)
    o3d = import_open3d()
    poses = sensor_poses(scene, settings)
    return [scan_frame(o3d, scene, t, settings, poses[t], np.random.default_rng([seed, t])) for t in chosen]


def _check_points(points: np.ndarray) -> np.ndarray:
    if not isinstance(points, np.ndarray) or points.ndim != 2 or points.shape[1] < 4:
        got = getattr(points, "shape", type(points).__name__)
        raise InputError(f"points must be an (N, 5) array of x, y, z, intensity, class, got {got}")
    return points


def kitti_bin_bytes(points: np.ndarray) -> bytes:
    """KITTI velodyne layout: N records of float32 x, y, z, intensity, little-endian, no header."""
    return np.ascontiguousarray(_check_points(points)[:, :4], dtype="<f4").tobytes()


def points_ply_bytes(points: np.ndarray) -> bytes:
    """Binary PLY point cloud: x y z intensity, palette colour of the class, and the class id."""
    points = _check_points(points)
    if points.shape[1] < 5:
        raise InputError(f"points need a class column for a PLY (N, 5), got {points.shape}")
    classes = points[:, 4].astype(np.uint8)
    vertex = np.empty(len(points), dtype=np.dtype(
        [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("intensity", "<f4"),
         ("red", "u1"), ("green", "u1"), ("blue", "u1"), ("class", "u1")]))
    for column, name in enumerate(("x", "y", "z", "intensity")):
        vertex[name] = points[:, column]
    for channel, name in enumerate(("red", "green", "blue")):
        vertex[name] = PALETTE.colors[classes, channel]
    vertex["class"] = classes
    return ply_bytes(vertex)


def write_kitti_bin(points: np.ndarray, path: PathLike) -> Path:
    """Write a scan as a KITTI `.bin` (read back with `np.fromfile(path, np.float32).reshape(-1, 4)`)."""
    return write_file(path, kitti_bin_bytes(points))


def write_points_ply(points: np.ndarray, path: PathLike) -> Path:
    """Write a scan as a binary PLY point cloud coloured by class, with `intensity` and `class` properties."""
    return write_file(path, points_ply_bytes(points))


def _scan_entries(scene: OccupancySequence, settings: LidarSettings | None, seed: int,
                  frames: Iterable[int] | None) -> Iterator[tuple[str, bytes]]:
    """Simulate now (so bad input fails before any file is made); encode lazily, frame by frame."""
    check_scene(scene)
    chosen = select_frames(scene, frames)
    scans = simulate_scans(scene, settings, seed=seed, frames=chosen)
    return ((frame_name(frame, suffix), encode(points))
            for frame, points in zip(chosen, scans)
            for suffix, encode in (("bin", kitti_bin_bytes), ("ply", points_ply_bytes)))


def export_scans(
    scene: OccupancySequence, folder: PathLike, settings: LidarSettings | None = None, *, seed: int,
    frames: Iterable[int] | None = None,
) -> list[Path]:
    """Simulate and write `NNNNNN.bin` (KITTI) and `NNNNNN.ply` per frame into `folder`; returns the paths."""
    return write_folder(folder, _scan_entries(scene, settings, seed, frames))


def export_scans_zip(
    scene: OccupancySequence, path: PathLike, settings: LidarSettings | None = None, *, seed: int,
    frames: Iterable[int] | None = None,
) -> Path:
    """The files of `export_scans` in one .zip at `path`, for download."""
    return write_zip(path, _scan_entries(scene, settings, seed, frames))
