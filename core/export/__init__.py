"""Exports of a scene for other tools: per-frame meshes and simulated LiDAR scans.

- `export_meshes(scene, folder, fmt="ply" | "glb", frames=None)` / `export_meshes_zip(scene, path, fmt)`:
  the exposed-face mesh of each frame, flat palette colours, class ids, metres in the first clip's frame;
- `simulate_scans(scene, settings, seed=...)`: a spinning LiDAR ray-cast from the ego pose of each
  frame, (N, 5) float32 x, y, z, intensity, class in the sensor frame (KITTI axes);
- `export_scans(scene, folder, settings, seed=...)` / `export_scans_zip(...)`: those scans as KITTI
  `.bin` and coloured `.ply` files; `write_kitti_bin` and `write_points_ply` write one scan.

Open3D is needed only for ray casting and is imported on first use (an InputError says what to install).
"""

from core.export.lidar import (
    LidarSettings, export_scans, export_scans_zip, simulate_scans, write_kitti_bin, write_points_ply,
)
from core.export.meshes import MESH_FORMATS, export_meshes, export_meshes_zip

__all__ = [
    "MESH_FORMATS", "LidarSettings", "export_meshes", "export_meshes_zip", "export_scans", "export_scans_zip",
    "simulate_scans", "write_kitti_bin", "write_points_ply",
]
