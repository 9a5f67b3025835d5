"""Tests of `open_scene` / `describe_source` over scene files and CarlaSC / Occ3D scene folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.data.scene_io import save_scene
from core.data.sources import describe_source, open_reader, open_scene
from core.types import GridSpec, InputError, OccupancySequence
from tests.data.test_carlasc import carlasc_poses, street_scene, write_carlasc_scene
from tests.data.test_occ3d import nuscenes_frames, write_occ3d_scene


def small_scene(convention: str = "anchored", poses: bool = True) -> OccupancySequence:
    grid = GridSpec.preset("cpu").with_frames(2)
    labels = np.zeros(grid.shape, np.uint8)
    labels[:, :, :, 0] = 6
    labels[1, 40, 30, 1] = 10
    pose_array = np.tile(np.eye(4), (2, 1, 1)) if poses else None
    if poses:
        pose_array[1, 0, 3] = 0.8  # one cpu cell forward
    return OccupancySequence(labels, grid, pose_array, None, convention, {"source": "test"})


def test_kinds_of_source(tmp_path: Path) -> None:
    npz = save_scene(small_scene(), tmp_path / "scene.npz")
    carlasc = write_carlasc_scene(tmp_path / "Town01", street_scene(1))
    occ3d = write_occ3d_scene(tmp_path / "occ", nuscenes_frames(1))
    assert [describe_source(p) for p in (npz, carlasc, occ3d)] == ["npz", "carlasc", "occ3d"]
    assert describe_source(carlasc / "cartesian" / "evaluation") == "carlasc"
    assert open_reader(npz) is None and open_reader(carlasc / "cartesian").name == "Town01"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "no such file or folder"),
        (lambda p: _touch(p / "notes.txt"), "not a scene .npz, CarlaSC scene folder or Occ3D scene folder"),
        (lambda p: _folder(p / "empty"), "empty folder"),
        (lambda p: _touch(p / "stuff" / "readme.md").parent, "not a scene .npz, CarlaSC scene folder or Occ3D"),
    ],
)
def test_anything_else_is_a_one_line_error(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        describe_source(make(tmp_path))
    assert "\n" not in str(caught.value)


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("hello")
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def test_carlasc_dataset_root_asks_for_a_scene(tmp_path: Path) -> None:
    write_carlasc_scene(tmp_path / "Cartesian" / "Train" / "Town01", street_scene(1))
    for path in (tmp_path, tmp_path / "Cartesian", tmp_path / "Cartesian" / "Train"):
        with pytest.raises(InputError, match="a CarlaSC dataset folder, not one scene"):
            open_scene(path)


def test_npz_as_stored_or_resampled(tmp_path: Path) -> None:
    path = save_scene(small_scene(), tmp_path / "scene.npz")
    scene = open_scene(path)
    assert scene.grid == GridSpec.preset("cpu").with_frames(2) and scene.metadata == {"source": "test"}
    fine = open_scene(path, preset="carlasc")
    assert fine.labels.shape == (2, 128, 128, 8) and (fine.labels[1, 80:82, 60:62, 1] == 10).all()
    with pytest.raises(InputError, match="unknown grid preset 'big'"):
        open_scene(path, preset="big")


def test_ego_npz_is_converted_on_request(tmp_path: Path) -> None:
    path = save_scene(small_scene("ego"), tmp_path / "ego.npz")
    assert open_scene(path, convention=None).convention == "ego"
    anchored = open_scene(path)
    assert anchored.convention == "anchored" and anchored.labels[1, 41, 30, 1] == 10
    assert anchored.unobserved[1, 0].all()
    no_poses = save_scene(small_scene("ego", poses=False), tmp_path / "bare.npz")
    with pytest.raises(InputError, match="ego convention without poses"):
        open_scene(no_poses)
    with pytest.raises(InputError, match="converting to ego is not supported"):
        open_scene(save_scene(small_scene(), tmp_path / "a.npz"), convention="ego")


def test_zero_frame_npz_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.npz"
    np.savez(
        path, format_version=np.array(1), class_table_version=np.array(1),
        grid=np.array('{"frames": 1, "cells": [64, 64, 8], "voxel_size": [0.8, 0.8, 0.375], '
                      '"origin": [-25.6, -25.6, -2.0]}'),
        convention=np.array("anchored"), labels=np.zeros((0, 64, 64, 8), np.uint8), metadata=np.array("{}"),
    )
    with pytest.raises(InputError, match="0 frames"):
        open_scene(path)


def test_dataset_folders_open_as_clips(tmp_path: Path) -> None:
    carlasc = write_carlasc_scene(tmp_path / "Town01", street_scene(3), poses=carlasc_poses(3))
    clip = open_scene(carlasc, start=1, frames=2)
    assert clip.grid.cells == (64, 64, 8) and clip.num_frames == 2 and clip.convention == "anchored"
    assert clip.metadata == {"source": "carlasc", "scene": "Town01", "start": 1}
    occ3d = write_occ3d_scene(tmp_path / "occ", nuscenes_frames(2))
    assert open_scene(occ3d, frames=2, convention=None).convention == "ego"  # no poses: native convention
    with pytest.raises(InputError, match="anchored convention needs poses"):
        open_scene(occ3d, frames=2)
    with pytest.raises(InputError, match="too few frames, 3 available"):
        open_scene(carlasc)
