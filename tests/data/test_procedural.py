"""The procedural city: determinism, disjoint splits, conventions, conditions and plausible content."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from core.data.dataset import ProceduralDataset
from core.data.palette import CLASS
from core.data.procedural import TEST_SEEDS, TRAIN_SEEDS, generate_clip, main, split_seed
from core.data.scene_io import load_scene
from core.types import Command, GridSpec, InputError


def test_same_seed_same_clip_different_seed_different_clip():
    a, b, c = generate_clip(5), generate_clip(5), generate_clip(6)
    assert np.array_equal(a.scene.labels, b.scene.labels) and np.array_equal(a.trajectory.poses, b.trajectory.poses)
    assert not np.array_equal(a.scene.labels, c.scene.labels)


def test_train_and_test_seeds_are_disjoint():
    assert TRAIN_SEEDS.stop <= TEST_SEEDS.start
    assert split_seed("train", 0) == 0 and split_seed("test", 0) == TEST_SEEDS.start
    assert {split_seed("train", i) for i in range(1000)}.isdisjoint({split_seed("test", i) for i in range(1000)})
    with pytest.raises(InputError, match="unknown split"):
        split_seed("val", 0)


@pytest.mark.parametrize("command", list(Command))
def test_requested_command_is_what_the_trajectory_shows(command):
    for seed in range(3):
        clip = generate_clip(seed, command=command)
        assert clip.command is command, (seed, clip.trajectory.poses[-1])
        assert clip.scene.metadata["command"] == command.name.lower()


def test_anchored_clip_keeps_the_world_still_and_moves_the_ego():
    clip = generate_clip(1, command="forward")
    labels = clip.scene.labels
    static = np.isin(labels, [CLASS["road"], CLASS["building"], CLASS["sidewalk"]])
    assert (static[0] == static[-1]).mean() > 0.99  # static classes stay put (only movers cover them)
    x, y, _ = clip.trajectory.poses[-1]
    grid = clip.scene.grid
    ix = int((x - grid.origin[0]) / grid.voxel_size[0])
    iy = int((y - grid.origin[1]) / grid.voxel_size[1])
    assert x > 3.0 and labels[-1, ix, iy, 1] == CLASS["vehicle"]  # the ego car is in the voxels where it drove
    assert labels[0, 32, 32, 1] == CLASS["vehicle"]  # and starts at the grid centre


def test_ego_convention_moves_the_world():
    anchored = generate_clip(2, command="forward", convention="anchored").scene
    ego = generate_clip(2, command="forward", convention="ego").scene
    assert np.array_equal(anchored.labels[0], ego.labels[0])
    road = CLASS["road"]
    assert ((ego.labels[0] == road) != (ego.labels[-1] == road)).mean() > ((anchored.labels[0] == road) != (anchored.labels[-1] == road)).mean()
    assert ego.convention == "ego" and ego.labels[-1, 32, 32, 1] == CLASS["vehicle"]


def test_conditions_have_the_documented_shapes():
    clip = generate_clip(3)
    assert clip.trajectory.poses.shape == (16, 3) and np.allclose(clip.trajectory.poses[0], 0)
    assert clip.layout.static.shape == (64, 64) and clip.layout.vehicles.shape == (16, 64, 64)
    assert CLASS["road"] in clip.layout.static and clip.layout.vehicles[0, 32, 32]
    assert clip.scene.poses.shape == (16, 4, 4)


def test_class_shares_are_in_carlasc_range_and_commands_mixed():
    labels = np.stack([generate_clip(seed).scene.labels for seed in range(12)])
    share = np.bincount(labels.ravel(), minlength=12) / labels.size
    assert 0.80 < share[CLASS["free"]] < 0.92
    assert 0.025 < share[CLASS["road"]] < 0.07 and 0.01 < share[CLASS["sidewalk"]] < 0.04
    assert 0.01 < share[CLASS["ground"]] < 0.04 and 0.003 < share[CLASS["building"]] < 0.03
    for name in ("barrier", "other", "pedestrian", "pole", "vegetation", "vehicle"):
        assert share[CLASS[name]] > 0, name
    commands = {generate_clip(seed).command for seed in range(20)}
    assert len(commands) >= 3


def test_carlasc_preset_runs():
    clip = generate_clip(0, grid=GridSpec.preset("carlasc"))
    assert clip.scene.labels.shape == (16, 128, 128, 8) and clip.layout.static.shape == (128, 128)


def test_dataset_workers_get_distinct_seeds():
    dataset = ProceduralDataset(split="train", length=4)
    loader = DataLoader(dataset, batch_size=None, num_workers=2)
    items = list(loader)
    assert sorted(int(i["seed"]) for i in items) == [0, 1, 2, 3]
    assert items[0]["labels"].shape == (16, 64, 64, 8) and items[0]["labels"].dtype == torch.int64
    ranks = [set(ProceduralDataset(length=8, rank=r, world_size=2).seed_indices()) for r in (0, 1)]
    assert ranks[0].isdisjoint(ranks[1]) and ranks[0] | ranks[1] == set(range(8))


def test_cli_writes_clips_and_rejects_bad_options(tmp_path, capsys):
    assert main(["--seed", "4", "--command", "left", "--out", str(tmp_path / "s.npz")]) == 0
    scene = load_scene(tmp_path / "s.npz")
    assert scene.metadata["command"] == "left" and scene.metadata["seed"] == 4
    assert main(["--count", "2", "--split", "test", "--out-dir", str(tmp_path / "many")]) == 0
    assert len(list((tmp_path / "many").glob("clip_*.npz"))) == 2
    for bad, message in ((["--preset", "huge", "--out", "x.npz"], "unknown grid preset"),
                         (["--command", "up", "--out", "x.npz"], "unknown command")):
        assert main(bad) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1


def test_box_overlap_separating_axes():
    from core.data.traffic import boxes_overlap

    a = np.array([[0.0, 0.0, 0.0]] * 4)
    b = np.array([[4.0, 0.0, 0.0], [4.7, 0.0, 0.0], [0.0, 2.5, np.pi / 2], [3.2, 3.2, np.pi / 4]])
    # 4×2 boxes: touching end to end, apart along x, crossing sideways, apart diagonally
    assert boxes_overlap(a, (4, 2), b, (4, 2)).tolist() == [True, False, True, False]
    assert boxes_overlap(a, (4, 2), b, (4, 2), margin=1.0).tolist() == [True, True, True, True]


def _blob_size(mask: np.ndarray, start: tuple[int, int]) -> int:
    """Cells of the 4-connected blob of `mask` containing `start`."""
    seen, todo = set(), [start]
    while todo:
        cell = todo.pop()
        if cell in seen or not (0 <= cell[0] < mask.shape[0] and 0 <= cell[1] < mask.shape[1]) or not mask[cell]:
            continue
        seen.add(cell)
        todo += [(cell[0] + dx, cell[1] + dy) for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))]
    return len(seen)


def test_no_mover_touches_the_ego():
    for seed in range(20):
        clip = generate_clip(seed, density=2.0)
        for t in range(0, 16, 3):
            x, y, _ = clip.trajectory.poses[t]
            cell = (int((x + 25.6) / 0.8), int((y + 25.6) / 0.8))
            vehicles = clip.scene.labels[t, :, :, 1] == CLASS["vehicle"]
            # the ego's blob is its own footprint (4.6 × 1.9 m, at most 7 × 7 cells when diagonal)
            assert 0 < _blob_size(vehicles, cell) <= 30, (seed, t)


def test_a_drive_is_consecutive_clips_each_anchored_at_its_first_frame():
    from core.data.procedural import generate_drive

    first, second = generate_drive(7, command="forward", clips=2)
    assert np.allclose(second.trajectory.poses[0], 0) and second.scene.labels[0, 32, 32, 1] == CLASS["vehicle"]
    # one world: the second clip's first pose is the first clip's pose one frame after its last
    step = first.scene.poses[-1, :2, 3] - first.scene.poses[-2, :2, 3]
    assert np.allclose(second.scene.poses[0, :2, 3], first.scene.poses[-1, :2, 3] + step, atol=0.2)
    assert np.array_equal(first.scene.labels, generate_clip(7, command="forward").scene.labels)


def test_the_command_a_seed_draws_is_pinned():
    """The first draw of a seed's stream picks the drive's command: the whole city depends on it, and the
    training data, the latent caches and the report's test scenes on that."""
    from core.data.scenario import draw_command

    drawn = [draw_command(np.random.default_rng(seed)).name.lower() for seed in range(16)]
    assert drawn == ["left", "left", "forward", "static", "right", "right", "left", "left", "forward", "right",
                     "right", "static", "forward", "right", "right", "left"]
