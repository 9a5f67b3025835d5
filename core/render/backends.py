"""Lazy imports of the optional 3D libraries and the one interface both render backends implement.

PyVista (VTK) and Open3D are heavy and optional: nothing imports them until a frame is rendered, and a
missing one raises an InputError that says what to install, instead of an ImportError deep in a stack.
PyVista renders offscreen through EGL (DESIGN §4): the EGL window class must be chosen through the
environment before VTK is first imported, and only for offscreen use (a desktop window needs X).
"""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Protocol

import numpy as np

from core.render.camera import CameraView
from core.render.mesh import FaceMesh
from core.types import InputError

PYVISTA_REQUIREMENT = "pyvista==0.49.1"
OPEN3D_REQUIREMENT = "open3d-cpu==0.20.0"

# Light grey: free space stays quiet while dark road and white-ish classes still stand out.
BACKGROUND_RGB: tuple[int, int, int] = (236, 238, 242)


def _import(module: str, label: str, requirement: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise InputError(f"{label} is not installed: pip install {requirement} ({error})") from None
    except OSError as error:
        # open3d loads system libraries (libusb-1.0-0, libGL) at import time.
        raise InputError(f"{label} could not load a system library ({error}): install it with apt-get") from None


def import_pyvista(offscreen: bool = True) -> ModuleType:
    """The `pyvista` module, set up for offscreen EGL rendering unless a desktop window is wanted."""
    if offscreen:
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    pv = _import("pyvista", "PyVista", PYVISTA_REQUIREMENT)
    pv.OFF_SCREEN = offscreen
    return pv


def import_open3d() -> ModuleType:
    """The `open3d` module, with its informational console chatter turned off."""
    # Its GLFW window layer wants a runtime dir even offscreen, and complains on every window without one.
    runtime = Path(tempfile.gettempdir()) / f"runtime-{os.getuid()}"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    o3d = _import("open3d", "Open3D", OPEN3D_REQUIREMENT)
    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    return o3d


class FrameRenderer(Protocol):
    """Draws one face mesh with per-face colours from one camera into an (H, W, 3) uint8 image."""

    width: int
    height: int

    def render(self, mesh: FaceMesh, face_colors: np.ndarray, view: CameraView) -> np.ndarray: ...

    def close(self) -> None: ...


def make_renderer(backend: str, width: int, height: int) -> FrameRenderer:
    """A reusable offscreen renderer of the named backend ("pyvista" or "open3d")."""
    if backend == "pyvista":
        from core.render.pyvista_backend import PyVistaRenderer

        return PyVistaRenderer(width, height)
    if backend == "open3d":
        from core.render.open3d_backend import Open3DRenderer

        return Open3DRenderer(width, height)
    raise InputError(f"unknown render backend {backend!r}; expected pyvista or open3d")
