"""Tests of the Occ3D reader on tiny scene folders written here in the real `labels.npz` format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.data.occ3d import Occ3DScene, is_occ3d_scene
from core.data.palette import CLASS
from core.types import InputError

CELLS = (200, 200, 16)
NUSCENES_FREE, NUSCENES_CAR, NUSCENES_ROAD = 17, 4, 11
WAYMO_FREE, WAYMO_ROAD = 23, 13


def nuscenes_frames(num_frames: int) -> np.ndarray:
    """Occ3D-nuScenes ids: driveable surface on the bottom layer, a car at the centre, rest free."""
    semantics = np.full((num_frames, *CELLS), NUSCENES_FREE, dtype=np.uint8)
    semantics[:, :, :, 0] = NUSCENES_ROAD
    semantics[:, 100, 100, 1] = NUSCENES_CAR  # x, y ∈ [0, 0.4] m, z ∈ [-0.6, -0.2] m
    semantics[:, 0, :, 0] = NUSCENES_CAR  # x ≈ -40 m: outside the ±25.6 m presets
    return semantics


def write_occ3d_scene(
    folder: Path, semantics: np.ndarray, *, camera: np.ndarray | None = None, extra: dict | None = None,
) -> Path:
    """One frame folder per frame with labels.npz (semantics, mask_lidar, mask_camera)."""
    for t, frame in enumerate(semantics):
        frame_folder = folder / f"scene-0001_{t:03d}"
        frame_folder.mkdir(parents=True)
        mask = np.ones(CELLS, np.uint8) if camera is None else camera[t].astype(np.uint8)
        entries = {"semantics": frame, "mask_lidar": np.ones(CELLS, np.uint8), "mask_camera": mask}
        np.savez_compressed(frame_folder / "labels.npz", **entries, **(extra or {}))
    return folder


def test_clip_remaps_nuscenes_and_crops_the_centre(tmp_path: Path) -> None:
    scene = Occ3DScene(write_occ3d_scene(tmp_path / "scene", nuscenes_frames(3)))
    assert scene.num_frames == 3 and scene.poses is None and is_occ3d_scene(tmp_path / "scene")
    clip = scene.clip(0, 2, preset="cpu", convention="ego")
    assert clip.labels.shape == (2, 64, 64, 8)
    assert (clip.labels[:, :, :, 0] == CLASS["road"]).all()  # Occ3D's -1 m layer on the preset's bottom
    assert clip.labels[0, 32, 32, 1] == CLASS["vehicle"]  # z -0.6..-0.2 m shifted by -1 m: layer 1
    assert int((clip.labels == CLASS["vehicle"]).sum()) == 2  # the x = -40 m wall was cropped away
    assert (clip.labels[:, :, :, 2:] == 0).all()
    assert clip.metadata == {"source": "occ3d-nuscenes", "scene": "scene", "start": 0}


def test_carlasc_preset_keeps_the_native_resolution(tmp_path: Path) -> None:
    scene = Occ3DScene(write_occ3d_scene(tmp_path / "s", nuscenes_frames(1)))
    clip = scene.clip(0, 1, preset="carlasc", convention="ego")
    assert clip.labels.shape == (1, 128, 128, 8) and clip.labels[0, 64, 64, 1] == CLASS["vehicle"]


def test_waymo_is_detected_from_its_free_id(tmp_path: Path) -> None:
    semantics = np.full((1, *CELLS), WAYMO_FREE, dtype=np.uint8)
    semantics[0, :, :, 0] = WAYMO_ROAD
    clip = Occ3DScene(write_occ3d_scene(tmp_path / "s", semantics)).clip(0, 1, convention="ego")
    assert clip.metadata["source"] == "occ3d-waymo"
    assert (clip.labels[0, :, :, 0] == CLASS["road"]).all() and (clip.labels[0, :, :, 1:] == 0).all()
    with pytest.raises(InputError, match="semantic id 23 is not an Occ3D-nuscenes id"):
        Occ3DScene(tmp_path / "s", variant="nuscenes").clip(0, 1, convention="ego")


def test_unobserved_follows_the_chosen_mask(tmp_path: Path) -> None:
    camera = np.ones((1, *CELLS), bool)
    camera[0, 100:, :, :] = False  # the camera saw nothing ahead of x = 0
    path = write_occ3d_scene(tmp_path / "s", nuscenes_frames(1), camera=camera)
    clip = Occ3DScene(path).clip(0, 1, convention="ego")
    assert clip.unobserved[0, 32:].all() and not clip.unobserved[0, :32].any()
    assert not Occ3DScene(path, mask="lidar").clip(0, 1, convention="ego").unobserved.any()
    assert Occ3DScene(path, mask="none").clip(0, 1, convention="ego").unobserved is None


def test_anchored_conversion_uses_scene_poses(tmp_path: Path) -> None:
    semantics = np.full((2, *CELLS), NUSCENES_FREE, dtype=np.uint8)
    semantics[0, 100, 100, 1] = NUSCENES_CAR
    semantics[1, 99, 100, 1] = NUSCENES_CAR  # a parked car slides one cell back as the ego drives 0.4 m
    path = write_occ3d_scene(tmp_path / "s", semantics)
    with pytest.raises(InputError, match="anchored convention needs poses"):
        Occ3DScene(path).clip(0, 2, preset="carlasc")
    poses = np.tile(np.eye(4), (2, 1, 1))
    poses[1, 0, 3] = 0.4
    np.save(path / "poses.npy", poses)
    clip = Occ3DScene(path).clip(0, 2, preset="carlasc")
    assert clip.convention == "anchored" and clip.poses.shape == (2, 4, 4)
    assert [int(np.argwhere(clip.labels[t] == CLASS["vehicle"])[0, 0]) for t in range(2)] == [64, 64]


def test_poses_from_text_and_from_labels_entries(tmp_path: Path) -> None:
    path = write_occ3d_scene(tmp_path / "a", nuscenes_frames(2))
    (path / "poses.txt").write_text("1 0 0 0 0 1 0 0 0 0 1 0\n1 0 0 2 0 1 0 0 0 0 1 0\n")
    assert Occ3DScene(path).poses[1, 0, 3] == 2.0
    path = write_occ3d_scene(tmp_path / "b", nuscenes_frames(2), extra={"ego_pose": np.eye(4)})
    np.testing.assert_array_equal(Occ3DScene(path).poses, np.tile(np.eye(4), (2, 1, 1)))
    (path / "poses.txt").write_text("1 0 0 0 0 1 0 0 0 0 1 0\n")
    with pytest.raises(InputError, match="1 poses for 2 frames"):
        Occ3DScene(path)


def test_empty_and_partial_folders(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no frame folders with labels.npz"):
        Occ3DScene(tmp_path)
    path = write_occ3d_scene(tmp_path / "s", nuscenes_frames(2))
    (path / "scene-0001_002").mkdir()
    with pytest.raises(InputError, match="partial Occ3D scene, frame folder scene-0001_002 has no labels.npz"):
        Occ3DScene(path)


def test_bad_frames_name_the_file(tmp_path: Path) -> None:
    path = write_occ3d_scene(tmp_path / "s", nuscenes_frames(1))
    labels = path / "scene-0001_000" / "labels.npz"
    np.savez(labels, semantics=np.zeros((200, 200, 8), np.uint8), mask_camera=np.ones(CELLS, np.uint8))
    with pytest.raises(InputError, match=r"labels\.npz: 'semantics' has shape \(200, 200, 8\)"):
        Occ3DScene(path).clip(0, 1, convention="ego")
    np.savez(labels, semantics=nuscenes_frames(1)[0])
    with pytest.raises(InputError, match="no 'mask_camera' entry"):
        Occ3DScene(path).clip(0, 1, convention="ego")
    np.savez(labels, semantics=np.array([None], dtype=object))
    with pytest.raises(InputError, match="pickled objects"):
        Occ3DScene(path).clip(0, 1, convention="ego")
    labels.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a valid .npz"):
        Occ3DScene(path)


def test_too_few_frames_and_bad_options(tmp_path: Path) -> None:
    path = write_occ3d_scene(tmp_path / "s", nuscenes_frames(2))
    with pytest.raises(InputError, match="too few frames, 2 available"):
        Occ3DScene(path).clip(1, 2, convention="ego")
    with pytest.raises(InputError, match="unknown Occ3D variant"):
        Occ3DScene(path, variant="kitti")
    with pytest.raises(InputError, match="unknown Occ3D visibility mask"):
        Occ3DScene(path, mask="radar")
