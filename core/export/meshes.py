"""Per-frame meshes of a scene as files for other 3D tools: binary PLY or glTF binary (.glb).

Each frame becomes the exposed-face mesh of its voxels (`core.render.mesh`, the same surface the videos
show), split into triangles. Every quad gets its own four vertices so that per-vertex colours stay flat
per face (a shared corner would blend the colours of the classes meeting there); the flat normals and
the class id travel with each vertex. Colours are the plain palette colours, not the renderer's baked
shading: viewers light the mesh themselves from the normals.

Coordinates are metres in the first clip's frame (`grid_to_display`): X forward, Y left, Z up, so the
frames of a long scene line up in one world. PLY vertices carry `x y z nx ny nz red green blue class`;
.glb files are described in `core.export.gltf`. Files are named `000000.ply`, `000001.ply`, ...
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.palette import PALETTE
from core.export.files import PathLike, check_scene, frame_name, select_frames, write_folder, write_zip
from core.export.gltf import glb_bytes
from core.export.ply import ply_bytes
from core.render.camera import grid_to_display
from core.render.mesh import FaceMesh, exposed_faces
from core.types import InputError, OccupancySequence

MESH_FORMATS: tuple[str, ...] = ("ply", "glb")

# The two triangles of a quad over its own 4 vertices, split along the 0–2 diagonal like
# FaceMesh.triangles, so triangle 2f and 2f + 1 still belong to face f.
_QUAD_TRIANGLES = np.array([[0, 1, 2], [0, 2, 3]], dtype=np.int32)


@dataclass(frozen=True)
class FlatMesh:
    """A triangle mesh with one vertex per face corner (F faces → 4F vertices, 2F triangles).

    positions:  (4F, 3) float32 metres.
    normals:    (4F, 3) float32 outward unit normal of the vertex's face.
    colors:     (4F, 3) uint8 palette colour of the face's class.
    classes:    (4F,) uint8 class id of the face.
    triangles:  (2F, 3) int32 vertex indices, counter-clockwise seen from outside.
    """

    positions: np.ndarray
    normals: np.ndarray
    colors: np.ndarray
    classes: np.ndarray
    triangles: np.ndarray


def flatten(mesh: FaceMesh, transform: np.ndarray) -> FlatMesh:
    """Unshare the quads' corners of `mesh`, moved by the 4×4 rigid `transform`, and triangulate them."""
    faces = mesh.num_faces
    rotation, shift = transform[:3, :3], transform[:3, 3]
    corners = mesh.vertices[mesh.quads].reshape(-1, 3).astype(np.float64)  # (4F, 3)
    positions = (corners @ rotation.T + shift).astype(np.float32)
    normals = np.repeat(mesh.normals @ rotation.T, 4, axis=0).astype(np.float32)
    classes = np.repeat(mesh.face_class, 4)
    triangles = (np.arange(faces, dtype=np.int32)[:, None, None] * 4 + _QUAD_TRIANGLES).reshape(-1, 3)
    return FlatMesh(positions, normals, PALETTE.colors[classes], classes, triangles)


def frame_mesh(scene: OccupancySequence, frame: int) -> FlatMesh:
    """The flat-coloured triangle mesh of one frame, in the first clip's frame."""
    placement = grid_to_display(scene)[frame]
    return flatten(exposed_faces(scene.labels[frame], scene.grid), placement)


def mesh_ply_bytes(mesh: FlatMesh) -> bytes:
    """Binary PLY with per-vertex position, normal, colour and class."""
    vertex = np.empty(len(mesh.positions), dtype=np.dtype(
        [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4"),
         ("red", "u1"), ("green", "u1"), ("blue", "u1"), ("class", "u1")]))
    for axis, name in enumerate("xyz"):
        vertex[name] = mesh.positions[:, axis]
        vertex["n" + name] = mesh.normals[:, axis]
    for channel, name in enumerate(("red", "green", "blue")):
        vertex[name] = mesh.colors[:, channel]
    vertex["class"] = mesh.classes
    return ply_bytes(vertex, mesh.triangles)


def mesh_glb_bytes(mesh: FlatMesh) -> bytes:
    return glb_bytes(mesh.positions, mesh.normals, mesh.colors, mesh.classes, mesh.triangles)


def _check_format(fmt: str) -> str:
    if fmt not in MESH_FORMATS:
        raise InputError(f"unknown mesh format {fmt!r}; expected one of: {', '.join(MESH_FORMATS)}")
    return fmt


def _mesh_entries(scene: OccupancySequence, fmt: str, frames: list[int]) -> Iterator[tuple[str, bytes]]:
    encode = mesh_ply_bytes if fmt == "ply" else mesh_glb_bytes
    for frame in frames:
        yield frame_name(frame, fmt), encode(frame_mesh(scene, frame))


def _prepare(scene: OccupancySequence, fmt: str, frames: Iterable[int] | None) -> list[int]:
    check_scene(scene)
    _check_format(fmt)
    return select_frames(scene, frames)


def export_meshes(
    scene: OccupancySequence, folder: PathLike, *, fmt: str = "ply", frames: Iterable[int] | None = None,
) -> list[Path]:
    """Write one mesh file per frame (all frames, or the listed ones) into `folder`; returns the paths.

    A frame with no occupied voxel gives a valid empty file (0 vertices), not an error.
    """
    chosen = _prepare(scene, fmt, frames)
    return write_folder(folder, _mesh_entries(scene, fmt, chosen))


def export_meshes_zip(
    scene: OccupancySequence, path: PathLike, fmt: str = "ply", *, frames: Iterable[int] | None = None,
) -> Path:
    """Write the per-frame mesh files of `export_meshes` into one .zip at `path` for download."""
    chosen = _prepare(scene, fmt, frames)
    return write_zip(path, _mesh_entries(scene, fmt, chosen))
