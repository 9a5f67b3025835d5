"""Tests of the CarlaSC reader on tiny scene folders written here in the real on-disk format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.data.carlasc import CarlaSCScene, list_carlasc_scenes
from core.data.palette import CLASS, PALETTE
from core.types import InputError

CELLS = (128, 128, 8)


def carlasc_poses(num_frames: int, step: float = 0.4) -> np.ndarray:
    """World-from-ego poses of an ego driving `step` metres forward (+x) per frame, from (100, 50, 0)."""
    poses = np.tile(np.eye(4), (num_frames, 1, 1))
    poses[:, 0, 3] = 100.0 + step * np.arange(num_frames)
    poses[:, 1, 3] = 50.0
    return poses


def write_carlasc_scene(
    folder: Path, raw: np.ndarray, counts: np.ndarray | None = None, poses: np.ndarray | None = None,
) -> Path:
    """Write a CarlaSC scene: raw (T, 128, 128, 8) ids as .label, counts as .bin, poses as 3×4 rows."""
    evaluation = folder / "cartesian" / "evaluation"
    evaluation.mkdir(parents=True)
    counts = np.ones(raw.shape, np.float32) if counts is None else counts
    for t in range(raw.shape[0]):
        raw[t].astype("<u4").tofile(evaluation / f"{t:06d}.label")
        counts[t].astype("<f4").tofile(evaluation / f"{t:06d}.bin")
    if poses is not None:
        lines = [" ".join(f"{v:.6f}" for v in pose[:3].ravel()) for pose in poses]
        (folder / "cartesian" / "poses.txt").write_text("\n".join(lines) + "\n")
    return folder


def street_scene(num_frames: int) -> np.ndarray:
    """Raw CarlaSC ids: road (7) on the bottom layer, a building (1) block, a pole (18), rest free."""
    raw = np.zeros((num_frames, *CELLS), dtype=np.uint32)
    raw[:, :, :, 0] = 7
    raw[:, 100:110, 10:30, 1:6] = 1
    raw[:, 64, 70, 1:7] = 18
    return raw


@pytest.fixture
def scene_path(tmp_path: Path) -> Path:
    counts = np.ones((3, *CELLS), np.float32)
    counts[:, :, :, 7] = 0  # nobody saw the top layer
    return write_carlasc_scene(tmp_path / "Town01_Heavy", street_scene(3), counts, carlasc_poses(3))


def test_clip_remaps_ids_and_reads_unobserved(scene_path: Path) -> None:
    scene = CarlaSCScene(scene_path)
    assert scene.num_frames == 3 and scene.name == "Town01_Heavy"
    clip = scene.clip(0, 2, preset="carlasc", convention="ego")
    assert clip.labels.shape == (2, 128, 128, 8) and clip.convention == "ego"
    np.testing.assert_array_equal(clip.labels, PALETTE.remap("carlasc")[street_scene(2)])
    assert clip.labels[0, 0, 0, 0] == CLASS["road"] and clip.labels[0, 64, 70, 3] == CLASS["pole"]
    assert clip.unobserved[:, :, :, 7].all() and not clip.unobserved[:, :, :, :7].any()
    assert clip.metadata == {"source": "carlasc", "scene": "Town01_Heavy", "start": 0}


def test_poses_become_world_from_ego_matrices(scene_path: Path) -> None:
    scene = CarlaSCScene(scene_path)
    np.testing.assert_allclose(scene.poses, carlasc_poses(3), atol=1e-6)
    clip = scene.clip(1, 2, preset="cpu", convention="ego")
    np.testing.assert_allclose(clip.poses, carlasc_poses(3)[1:], atol=1e-6)
    assert clip.metadata["start"] == 1


def test_anchored_clip_holds_the_static_world_still(tmp_path: Path) -> None:
    # In ego frames a pole slides back one cell per frame as the ego drives 0.4 m forward.
    raw = np.zeros((3, *CELLS), dtype=np.uint32)
    for t in range(3):
        raw[t, 80 - t, 64, 2] = 18
    scene = CarlaSCScene(write_carlasc_scene(tmp_path / "s", raw, poses=carlasc_poses(3)))
    clip = scene.clip(0, 3, preset="carlasc", convention="anchored")
    for t in range(3):
        assert clip.labels[t, 80, 64, 2] == CLASS["pole"] and int((clip.labels[t] > 0).sum()) == 1
        assert clip.unobserved[t, :t].all() and not clip.unobserved[t, t:].any()  # behind: left frame t's grid


def test_default_preset_is_cpu_and_clips_slide(scene_path: Path) -> None:
    scene = CarlaSCScene(scene_path)
    clip = scene.clip(0, 2)
    assert clip.grid.cells == (64, 64, 8) and clip.grid.frames == 2 and clip.convention == "anchored"
    assert clip.labels[0, 50, 5, 1] == CLASS["building"]
    assert [c.metadata["start"] for c in scene.clips(2, 1, convention="ego")] == [0, 1]
    assert list(scene.clip_starts(1, 2)) == [0, 2]


def test_empty_folder_is_not_a_scene(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"not a CarlaSC scene folder \(no cartesian/"):
        CarlaSCScene(tmp_path)
    (tmp_path / "cartesian").mkdir()
    with pytest.raises(InputError, match="missing cartesian/evaluation"):
        CarlaSCScene(tmp_path)
    (tmp_path / "cartesian" / "evaluation").mkdir()
    with pytest.raises(InputError, match="no frames in cartesian/evaluation"):
        CarlaSCScene(tmp_path)


def test_label_without_bin_is_a_partial_scene(scene_path: Path) -> None:
    (scene_path / "cartesian" / "evaluation" / "000001.bin").unlink()
    with pytest.raises(InputError, match=r"frame 000001 has a \.label but no \.bin \(3 \.label and 2 \.bin"):
        CarlaSCScene(scene_path)


def test_truncated_file_names_file_and_sizes(scene_path: Path) -> None:
    label = scene_path / "cartesian" / "evaluation" / "000002.label"
    label.write_bytes(label.read_bytes()[:1000])
    with pytest.raises(InputError, match=r"000002\.label: 1000 bytes, expected 524288"):
        CarlaSCScene(scene_path)


def test_too_few_frames_for_a_clip(scene_path: Path) -> None:
    with pytest.raises(InputError, match="too few frames, 3 available; a clip of 16 frames from frame 0 needs"):
        CarlaSCScene(scene_path).clip(0, 16)
    with pytest.raises(InputError, match="too few frames"):
        list(CarlaSCScene(scene_path).clips(4))


def test_ids_beyond_22_are_refused(tmp_path: Path) -> None:
    raw = np.zeros((1, *CELLS), dtype=np.uint32)
    raw[0, 1, 2, 3] = 23
    scene = CarlaSCScene(write_carlasc_scene(tmp_path / "s", raw))
    with pytest.raises(InputError, match=r"000000\.label: label id 23 is not a CarlaSC id \(expected 0\.\.22"):
        scene.clip(0, 1, convention="ego")


def test_pose_count_must_match_frames(tmp_path: Path) -> None:
    path = write_carlasc_scene(tmp_path / "s", street_scene(3), poses=carlasc_poses(2))
    with pytest.raises(InputError, match="poses.txt: 2 poses for 3 frames"):
        CarlaSCScene(path)


def test_anchored_needs_poses_and_presets_are_checked(tmp_path: Path) -> None:
    scene = CarlaSCScene(write_carlasc_scene(tmp_path / "s", street_scene(1)))
    assert scene.poses is None
    with pytest.raises(InputError, match="anchored convention needs poses"):
        scene.clip(0, 1)
    with pytest.raises(InputError, match="unknown grid preset 'huge'"):
        scene.clip(0, 1, preset="huge", convention="ego")
    with pytest.raises(InputError, match="unknown convention"):
        scene.clip(0, 1, convention="world")


def test_list_scenes_of_a_dataset_root(tmp_path: Path) -> None:
    for split, name in [("Train", "Town01_Heavy"), ("Train", "Town02_Light"), ("Val", "Town03_Medium")]:
        write_carlasc_scene(tmp_path / "Cartesian" / split / name, street_scene(1))
    assert [p.name for p in list_carlasc_scenes(tmp_path, "train")] == ["Town01_Heavy", "Town02_Light"]
    assert [p.name for p in list_carlasc_scenes(tmp_path / "Cartesian", None)] == [
        "Town01_Heavy", "Town02_Light", "Town03_Medium"
    ]
    with pytest.raises(InputError, match="no CarlaSC split folder 'Test'"):
        list_carlasc_scenes(tmp_path, "Test")
