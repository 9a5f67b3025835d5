"""Exposed-face meshing: face counts against brute force, shared vertices, winding, metric positions."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core.render.mesh import SHADE, exposed_faces, shaded_face_colors
from core.data.palette import PALETTE
from core.types import GridSpec, InputError


def grid_for(shape: tuple[int, int, int], voxel=(0.8, 0.8, 0.375), origin=(-3.2, -3.2, -1.0)) -> GridSpec:
    return GridSpec(frames=1, cells=shape, voxel_size=voxel, origin=origin)


def brute_force_faces(labels: np.ndarray) -> list[tuple[int, int, int, int, int, int]]:
    """(x, y, z, axis, sign, class) of every occupied voxel side facing free space or the boundary."""
    faces = []
    for x, y, z in zip(*np.nonzero(labels)):
        for axis in range(3):
            for sign in (-1, 1):
                neighbour = [x, y, z]
                neighbour[axis] += sign
                inside = all(0 <= n < s for n, s in zip(neighbour, labels.shape))
                if not inside or labels[tuple(neighbour)] == 0:
                    faces.append((x, y, z, axis, sign, int(labels[x, y, z])))
    return faces


label_grids = st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 4)).flatmap(
    lambda shape: arrays(np.uint8, shape, elements=st.sampled_from([0, 0, 0, 1, 6, 10]))
)


@settings(max_examples=60, deadline=None)
@given(labels=label_grids)
def test_face_count_and_classes_match_brute_force(labels):
    mesh = exposed_faces(labels, grid_for(labels.shape))
    expected = brute_force_faces(labels)
    assert mesh.num_faces == len(expected)
    got = sorted(zip(mesh.face_axis.tolist(), mesh.face_sign.tolist(), mesh.face_class.tolist()))
    assert got == sorted((a, s, c) for *_, a, s, c in expected)


@settings(max_examples=40, deadline=None)
@given(labels=label_grids)
def test_vertices_are_shared_used_and_on_the_lattice(labels):
    grid = grid_for(labels.shape)
    mesh = exposed_faces(labels, grid)
    assert mesh.vertices.dtype == np.float32 and mesh.quads.dtype == np.int32
    assert len(np.unique(mesh.vertices, axis=0)) == len(mesh.vertices)
    assert set(np.unique(mesh.quads).tolist()) == set(range(len(mesh.vertices)))
    lattice = (mesh.vertices - np.float32(grid.origin)) / np.float32(grid.voxel_size)
    np.testing.assert_allclose(lattice, np.round(lattice), atol=1e-4)
    assert lattice.min(initial=0) >= -1e-4 and (lattice <= np.array(labels.shape) + 1e-4).all()


@settings(max_examples=40, deadline=None)
@given(labels=label_grids)
def test_quads_are_voxel_sides_wound_outwards(labels):
    grid = grid_for(labels.shape)
    mesh = exposed_faces(labels, grid)
    corners = mesh.vertices[mesh.quads].astype(np.float64)  # (F, 4, 3)
    normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 1])
    unit = normal / np.linalg.norm(normal, axis=1, keepdims=True)
    np.testing.assert_allclose(unit, mesh.normals, atol=1e-6)
    side = corners.max(axis=1) - corners.min(axis=1)
    expected = np.broadcast_to(np.float64(grid.voxel_size), side.shape).copy()
    expected[np.arange(mesh.num_faces), mesh.face_axis] = 0
    np.testing.assert_allclose(side, expected, atol=1e-5)


def test_solid_block_has_only_its_shell():
    labels = np.ones((4, 3, 2), dtype=np.uint8)
    mesh = exposed_faces(labels, grid_for(labels.shape))
    assert mesh.num_faces == 2 * (4 * 3 + 4 * 2 + 3 * 2)
    assert len(mesh.vertices) == 5 * 4 * 3 - 3 * 2 * 1  # lattice points minus the hidden interior ones


def test_vertices_are_metric_positions():
    labels = np.zeros((3, 3, 3), dtype=np.uint8)
    labels[2, 1, 0] = 7
    grid = grid_for(labels.shape, voxel=(0.5, 1.0, 0.25), origin=(10.0, -2.0, -1.0))
    mesh = exposed_faces(labels, grid)
    np.testing.assert_allclose(mesh.vertices.min(axis=0), [11.0, -1.0, -1.0])
    np.testing.assert_allclose(mesh.vertices.max(axis=0), [11.5, 0.0, -0.75])


def test_empty_frame_and_bad_shape():
    grid = grid_for((4, 4, 2))
    mesh = exposed_faces(np.zeros((4, 4, 2), dtype=np.uint8), grid)
    assert mesh.num_faces == 0 and mesh.vertices.shape == (0, 3) and mesh.triangles().shape == (0, 3)
    with pytest.raises(InputError, match=r"shape \(4, 4, 2\)"):
        exposed_faces(np.zeros((4, 4, 3), dtype=np.uint8), grid)


def test_triangles_split_quads_and_top_faces_keep_palette_colour():
    labels = np.zeros((2, 2, 2), dtype=np.uint8)
    labels[0, 0, 0] = 6
    mesh = exposed_faces(labels, grid_for(labels.shape))
    assert mesh.triangles().shape == (12, 3)
    colors = shaded_face_colors(mesh, PALETTE.colors)
    top = (mesh.face_axis == 2) & (mesh.face_sign > 0)
    assert SHADE[5] == 1.0
    assert (colors[top] == PALETTE.colors[6]).all()
    assert (colors[~top].astype(int) <= PALETTE.colors[6]).all()


def test_cpu_frame_meshes_in_milliseconds(cpu_city):
    exposed_faces(cpu_city.labels[0], cpu_city.grid)
    started = time.perf_counter()
    for frame in cpu_city.labels[:8]:
        exposed_faces(frame, cpu_city.grid)
    assert (time.perf_counter() - started) / 8 < 0.05  # measured ≈ 2 ms; loose for loaded CI machines
