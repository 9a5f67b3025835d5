"""PyVista (VTK) offscreen backend: one reused plotter, baked face colours, no lights, no MSAA.

DESIGN §4 measured the cost of each choice at 640×480: ~100 ms per frame at default multisampling,
~48 ms without it, ~32 ms with shading baked into face colours and lighting off. So the plotter is made
once per job, multisampling is off, the actor is unlit and shows the cell colours as given, and each
frame only swaps the mapper's input and moves the camera.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from core.render.backends import BACKGROUND_RGB, import_pyvista
from core.render.camera import CameraView
from core.render.mesh import FaceMesh


def to_polydata(pv: ModuleType, mesh: FaceMesh, face_colors: np.ndarray) -> Any:
    """A `pyvista.PolyData` of the quads with the (F, 3) uint8 colours as active cell scalars."""
    if mesh.num_faces == 0:
        return pv.PolyData()
    poly = pv.PolyData.from_regular_faces(mesh.vertices, mesh.quads)
    poly.cell_data.set_scalars(face_colors, "rgb")
    return poly


def add_unlit_actor(plotter: Any) -> Any:
    """An actor whose mapper paints cell colours directly (no colour map) with lighting off."""
    # The rendering-core module only: `import vtk` would load every VTK module (≈ 0.3 s).
    from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

    mapper = vtkPolyDataMapper()
    mapper.SetScalarModeToUseCellData()
    mapper.SetColorModeToDirectScalars()
    mapper.ScalarVisibilityOn()
    actor = vtkActor()
    actor.SetMapper(mapper)
    actor.GetProperty().LightingOff()
    plotter.renderer.AddActor(actor)
    return actor


def apply_view(plotter: Any, view: CameraView) -> None:
    camera = plotter.camera
    camera.position = view.position
    camera.focal_point = view.focal_point
    camera.up = view.up
    camera.view_angle = view.view_angle
    plotter.renderer.ResetCameraClippingRange()


class PyVistaRenderer:
    """Offscreen frames through EGL; create once, call `render` per frame, then `close`."""

    def __init__(self, width: int, height: int) -> None:
        self._pv = import_pyvista(offscreen=True)
        self.width, self.height = int(width), int(height)
        self._plotter = self._pv.Plotter(off_screen=True, window_size=(self.width, self.height), lighting=None)
        self._plotter.ren_win.SetMultiSamples(0)
        self._plotter.set_background(np.asarray(BACKGROUND_RGB) / 255)
        self._actor = add_unlit_actor(self._plotter)

    def render(self, mesh: FaceMesh, face_colors: np.ndarray, view: CameraView) -> np.ndarray:
        """(H, W, 3) uint8 image of `mesh` coloured per face by `face_colors` (F, 3) uint8."""
        self._actor.GetMapper().SetInputData(to_polydata(self._pv, mesh, face_colors))
        apply_view(self._plotter, view)
        self._plotter.render()
        return self._plotter.screenshot(return_img=True)[..., :3]

    def close(self) -> None:
        self._plotter.close()
