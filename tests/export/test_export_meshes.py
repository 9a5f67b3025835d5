"""Per-frame mesh export: PLY and .glb read back by Open3D and by independent parsers, zip download."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from core.data.palette import CLASS, PALETTE
from core.export.meshes import export_meshes, export_meshes_zip, frame_mesh
from core.render.backends import import_open3d
from core.render.mesh import exposed_faces
from core.types import GridSpec, InputError, OccupancySequence
from tests.export.conftest import glb_accessor, moving_wall_scene, read_glb, read_ply

GRID = GridSpec(frames=3, cells=(6, 5, 4), voxel_size=(0.8, 0.8, 0.375), origin=(-2.4, -2.0, -1.0))


@pytest.fixture
def small_scene() -> OccupancySequence:
    """A road layer, a building block and a car that moves; frame 2 is empty."""
    labels = np.zeros(GRID.shape, dtype=np.uint8)
    labels[:2, :, :, 0] = CLASS["road"]
    labels[:2, 1:3, 1:3, 1:3] = CLASS["building"]
    labels[0, 4, 3, 1] = CLASS["vehicle"]
    labels[1, 5, 3, 1] = CLASS["vehicle"]
    return OccupancySequence(labels=labels, grid=GRID)


def test_ply_round_trip_through_open3d(small_scene, tmp_path):
    paths = export_meshes(small_scene, tmp_path, fmt="ply", frames=[0, 1])
    assert [p.name for p in paths] == ["000000.ply", "000001.ply"]
    o3d = import_open3d()
    for frame, path in enumerate(paths):
        faces = exposed_faces(small_scene.labels[frame], small_scene.grid)
        mesh = o3d.io.read_triangle_mesh(str(path))
        assert len(mesh.vertices) == 4 * faces.num_faces  # one vertex per face corner: flat colours
        assert len(mesh.triangles) == 2 * faces.num_faces
        expected_corners = faces.vertices[faces.quads].reshape(-1, 3)
        np.testing.assert_allclose(np.asarray(mesh.vertices), expected_corners, atol=1e-6)
        colors = np.rint(np.asarray(mesh.vertex_colors) * 255).astype(np.uint8)
        np.testing.assert_array_equal(colors, PALETTE.colors[np.repeat(faces.face_class, 4)])
        assert mesh.has_vertex_normals()


def test_ply_keeps_class_and_outward_normals(small_scene, tmp_path):
    [path] = export_meshes(small_scene, tmp_path, frames=[0])
    ply = read_ply(path)
    faces = exposed_faces(small_scene.labels[0], small_scene.grid)
    np.testing.assert_array_equal(ply["vertex"]["class"], np.repeat(faces.face_class, 4))
    # Triangle 2f and 2f + 1 cover quad f, wound so that their normal is the face's outward normal.
    vertex = np.stack([ply["vertex"][c] for c in "xyz"], axis=1)
    a, b, c = (vertex[ply["face"][:, i]] for i in range(3))
    normals = np.cross(b - a, c - a)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    np.testing.assert_allclose(normals, np.repeat(faces.normals, 2, axis=0), atol=1e-6)


def test_glb_read_by_open3d_and_parser(small_scene, tmp_path):
    [path] = export_meshes(small_scene, tmp_path, fmt="glb", frames=[1])
    faces = exposed_faces(small_scene.labels[1], small_scene.grid)
    mesh = import_open3d().io.read_triangle_mesh(str(path))
    assert len(mesh.triangles) == 2 * faces.num_faces
    colors = {tuple(c) for c in np.rint(np.asarray(mesh.vertex_colors) * 255).astype(int)}
    assert colors == {tuple(int(v) for v in PALETTE.colors[c]) for c in faces.class_ids()}
    document, blob = read_glb(path)
    attributes = document["meshes"][0]["primitives"][0]["attributes"]
    positions = glb_accessor(document, blob, attributes["POSITION"])
    np.testing.assert_allclose(positions, faces.vertices[faces.quads].reshape(-1, 3), atol=1e-6)
    np.testing.assert_array_equal(glb_accessor(document, blob, attributes["_CLASS"]), np.repeat(faces.face_class, 4))
    # Open3D applies the node's Z-up → Y-up rotation: (x, y, z) shows up as (x, z, -y).
    upright = np.column_stack([positions[:, 0], positions[:, 2], -positions[:, 1]])
    lo, hi = np.asarray(mesh.vertices).min(axis=0), np.asarray(mesh.vertices).max(axis=0)
    np.testing.assert_allclose([lo, hi], [upright.min(axis=0), upright.max(axis=0)], atol=1e-5)


def test_empty_frame_gives_valid_empty_files(small_scene, tmp_path):
    [ply] = export_meshes(small_scene, tmp_path, fmt="ply", frames=[2])
    [glb] = export_meshes(small_scene, tmp_path, fmt="glb", frames=[2])
    assert len(read_ply(ply)["vertex"]) == 0 and len(read_ply(ply)["face"]) == 0
    document, blob = read_glb(glb)
    assert blob == b"" and "meshes" not in document


def test_zip_holds_the_folder_files(small_scene, tmp_path):
    paths = export_meshes(small_scene, tmp_path / "folder", fmt="glb")
    archive = export_meshes_zip(small_scene, tmp_path / "meshes.zip", "glb")
    with zipfile.ZipFile(archive) as opened:
        assert opened.namelist() == [p.name for p in paths]
        for path in paths:
            assert opened.read(path.name) == path.read_bytes()


def test_long_scene_frames_are_placed_in_the_first_clips_frame():
    # Each clip of one frame is anchored at its own ego pose; frame 1's ego stands 2 m ahead and turned.
    scene = moving_wall_scene(ego_x=2.0, yaw=np.pi / 2, clip_frames=1)
    local = frame_mesh(moving_wall_scene(ego_x=2.0, yaw=np.pi / 2), 1).positions  # single clip: no move
    placed = frame_mesh(scene, 1).positions
    expected = np.column_stack([2.0 - local[:, 1], local[:, 0], local[:, 2]])
    np.testing.assert_allclose(placed, expected, atol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"fmt": "obj"}, "unknown mesh format"),
    ({"frames": [3]}, "out of range"),
    ({"frames": []}, "frames is empty"),
    ({"frames": [0, 0]}, "repeated"),
    ({"frames": ["0"]}, "integers"),
])
def test_bad_options_are_input_errors(small_scene, tmp_path, kwargs, message):
    with pytest.raises(InputError, match=message):
        export_meshes(small_scene, tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())


def test_bad_targets_are_input_errors(small_scene, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="not a folder"):
        export_meshes(small_scene, tmp_path / "file")
    with pytest.raises(InputError, match=r"\.zip"):
        export_meshes_zip(small_scene, tmp_path / "meshes.tar")
    with pytest.raises(InputError, match="OccupancySequence"):
        export_meshes(small_scene.labels, tmp_path)
