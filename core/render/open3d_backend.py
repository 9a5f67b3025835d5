"""Open3D backend: the legacy `Visualizer` with a hidden window (EGL offscreen when there is no display).

DESIGN §4: the legacy visualizer renders at ~60 ms per 640×480 frame here, while Open3D's
`OffscreenRenderer` needs Vulkan and stalls for seconds, so it is not used. Open3D colours vertices, not
faces, so each quad gets its own four vertices to keep faces flat-coloured; lighting is off because the
shading is already baked into the colours.
"""

from __future__ import annotations

import numpy as np

from core.render.backends import BACKGROUND_RGB, import_open3d
from core.render.camera import CameraView
from core.render.mesh import FaceMesh
from core.types import InputError


def flat_triangles(mesh: FaceMesh, face_colors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unshared (4F, 3) float64 vertices, (2F, 3) int32 triangles and (4F, 3) float64 colours in 0..1."""
    vertices = mesh.vertices[mesh.quads].reshape(-1, 3).astype(np.float64)  # (4F, 3)
    corners = np.arange(4 * mesh.num_faces, dtype=np.int32).reshape(-1, 4)
    triangles = np.stack([corners[:, [0, 1, 2]], corners[:, [0, 2, 3]]], axis=1).reshape(-1, 3)
    colors = np.repeat(face_colors.astype(np.float64) / 255.0, 4, axis=0)
    return vertices, triangles, colors


def pinhole_intrinsic(width: int, height: int, view_angle: float) -> np.ndarray:
    """(3, 3) intrinsic matrix of a centred pinhole camera with the given vertical field of view."""
    focal = (height / 2) / np.tan(np.radians(view_angle) / 2)
    # Open3D insists that the principal point is exactly the pixel centre.
    return np.array([[focal, 0, width / 2 - 0.5], [0, focal, height / 2 - 0.5], [0, 0, 1]])


class Open3DRenderer:
    """Hidden legacy Open3D window; create once, call `render` per frame, then `close`."""

    def __init__(self, width: int, height: int) -> None:
        self._o3d = import_open3d()
        self.width, self.height = int(width), int(height)
        self._vis = self._o3d.visualization.Visualizer()
        if not self._vis.create_window(visible=False, width=self.width, height=self.height):
            raise InputError("Open3D could not open an offscreen window (no EGL or GLFW display available)")
        options = self._vis.get_render_option()
        options.background_color = np.asarray(BACKGROUND_RGB) / 255.0
        options.light_on = False
        options.mesh_show_back_face = True
        self._mesh = self._o3d.geometry.TriangleMesh()

    def _set_mesh(self, mesh: FaceMesh, face_colors: np.ndarray) -> None:
        utility = self._o3d.utility
        vertices, triangles, colors = flat_triangles(mesh, face_colors)
        self._mesh.vertices = utility.Vector3dVector(vertices)
        self._mesh.triangles = utility.Vector3iVector(triangles)
        self._mesh.vertex_colors = utility.Vector3dVector(colors)
        # Re-adding (not `update_geometry`) refits the view's bounding box, from which the legacy
        # visualizer derives its clipping planes: a frame larger than the first would be clipped.
        self._vis.clear_geometries()
        self._vis.add_geometry(self._mesh, reset_bounding_box=True)

    def _set_view(self, view: CameraView) -> None:
        parameters = self._o3d.camera.PinholeCameraParameters()
        parameters.intrinsic.intrinsic_matrix = pinhole_intrinsic(self.width, self.height, view.view_angle)
        parameters.intrinsic.width, parameters.intrinsic.height = self.width, self.height
        parameters.extrinsic = view.world_to_camera()
        control = self._vis.get_view_control()
        control.convert_from_pinhole_camera_parameters(parameters, allow_arbitrary=True)

    def render(self, mesh: FaceMesh, face_colors: np.ndarray, view: CameraView) -> np.ndarray:
        """(H, W, 3) uint8 image of `mesh` coloured per face by `face_colors` (F, 3) uint8."""
        self._set_mesh(mesh, face_colors)
        self._set_view(view)
        self._vis.poll_events()
        self._vis.update_renderer()
        buffer = np.asarray(self._vis.capture_screen_float_buffer(do_render=True))
        return np.clip(buffer * 255 + 0.5, 0, 255).astype(np.uint8)

    def close(self) -> None:
        self._vis.destroy_window()
