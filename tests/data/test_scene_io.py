"""Scene .npz files: round trip, atomic writes, and a one-line rejection of every malformed file."""

import io
import json
import pickle
import zipfile

import numpy as np
import pytest

from core.data.scene_io import load_scene, save_scene
from core.types import GridSpec, InputError, OccupancySequence


def make_scene(rng: np.random.Generator) -> OccupancySequence:
    grid = GridSpec(3, (6, 5, 4), (0.8, 0.8, 0.375), (-2.4, -2.0, -1.0))
    poses = np.tile(np.eye(4), (3, 1, 1))
    poses[:, 0, 3] = [0.0, 1.0, 2.0]
    return OccupancySequence(
        labels=rng.integers(0, 12, grid.shape, dtype=np.uint8), grid=grid, poses=poses,
        unobserved=rng.random(grid.shape) < 0.2, convention="ego", metadata={"seed": 3, "note": "ünïcode"},
    )


def test_round_trip_is_exact(tmp_path):
    scene = make_scene(np.random.default_rng(0))
    path = save_scene(scene, tmp_path / "a" / "scene.npz")
    loaded = load_scene(path)
    assert np.array_equal(loaded.labels, scene.labels) and loaded.labels.dtype == np.uint8
    assert np.array_equal(loaded.poses, scene.poses) and np.array_equal(loaded.unobserved, scene.unobserved)
    assert loaded.grid == scene.grid and loaded.convention == "ego" and loaded.metadata == scene.metadata
    assert [p.name for p in path.parent.iterdir()] == ["scene.npz"]  # no temp file left behind


def test_optional_entries_absent(tmp_path):
    grid = GridSpec(1, (2, 2, 2), (1, 1, 1), (0, 0, 0))
    loaded = load_scene(save_scene(OccupancySequence(np.zeros(grid.shape, np.uint8), grid), tmp_path / "s.npz"))
    assert loaded.poses is None and loaded.unobserved is None and loaded.metadata == {}


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    scene = make_scene(np.random.default_rng(1))
    path = save_scene(scene, tmp_path / "scene.npz")
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", explode)
    with pytest.raises(OSError):
        save_scene(scene, path)
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def valid_arrays(scene_path):
    with np.load(scene_path) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.fixture
def good(tmp_path):
    return valid_arrays(save_scene(make_scene(np.random.default_rng(2)), tmp_path / "good.npz"))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.pop("labels"), "missing entries \\['labels'\\]"),
        (lambda a: a.update(labels=a["labels"][:, :, :, :2]), "labels must have shape"),
        (lambda a: a.update(labels=a["labels"].astype(np.int16)), "dtype uint8, got int16"),
        (lambda a: a.update(labels=np.full(a["labels"].shape, 40, np.uint8)), "found class id 40"),
        (lambda a: a.update(labels=np.zeros((0, 6, 5, 4), np.uint8),
                            grid=np.array(json.dumps({"frames": 0, "cells": [6, 5, 4], "voxel_size": [1, 1, 1],
                                                      "origin": [0, 0, 0]}))), "frames must be a positive"),
        (lambda a: a.update(grid=np.array("{not json")), "'grid' is not valid JSON"),
        (lambda a: a.update(format_version=np.array(7)), "format version 7"),
        (lambda a: a.update(poses=np.zeros((2, 4, 4))), "poses must have shape"),
        (lambda a: a.update(convention=np.array("world")), "convention"),
    ],
)
def test_malformed_files_are_rejected_in_one_line(tmp_path, good, change, message):
    change(good)
    path = write_npz(tmp_path / "bad.npz", **good)
    with pytest.raises(InputError, match=message) as info:
        load_scene(path)
    assert "\n" not in str(info.value) and "bad.npz" in str(info.value)


def test_pickled_content_is_refused(tmp_path, good):
    good["metadata"] = np.array([{"evil": 1}], dtype=object)
    path = write_npz(tmp_path / "pickled.npz", **good)
    with pytest.raises(InputError, match="pickled objects"):
        load_scene(path)


def test_truncated_and_garbage_files(tmp_path):
    scene_bytes = (save_scene(make_scene(np.random.default_rng(3)), tmp_path / "s.npz")).read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(scene_bytes[: len(scene_bytes) // 2])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"hello, not a zip")
    pickled = tmp_path / "pickle.npz"
    pickled.write_bytes(pickle.dumps({"labels": 1}))  # a pickle renamed .npz: refused before unpickling
    for path in (truncated, garbage, pickled):
        with pytest.raises(InputError, match=str(path.name)):
            load_scene(path)
    with pytest.raises(InputError, match="no such file"):
        load_scene(tmp_path / "missing.npz")


def test_bare_npy_is_rejected(tmp_path):
    path = tmp_path / "labels.npy"
    np.save(path, np.zeros((2, 2), np.uint8))
    with pytest.raises(InputError, match="bare .npy"):
        load_scene(path)
