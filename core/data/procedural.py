"""The procedural 4D city: deterministic per seed, in CarlaSC's label space and conventions (DESIGN §3).

`generate_clip(seed, grid=...)` plans a drive and its city (`core.data.scenario`), builds the static
world (`core.data.city`) and voxelises the T frames, in the **anchored** convention (every frame in
frame 0's ego pose: the world stays put and the ego car drives across the grid) or the **ego**
convention (each frame in its own ego pose, as CarlaSC records it). Each clip carries its trajectory,
command, the bird's-eye static layout of frame 0 and per-frame vehicle occupancy (DiT conditions).
Train and test seeds come from disjoint ranges (`split_seed`).

CLI: `python -m core.data.procedural --preset cpu --seed 0 [--command left] [--frame ego] --out scene.npz`
or `--count N --out-dir DIR` to write N clips.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path as FilePath

import numpy as np

from core.conditions.command import command_from_trajectory
from core.conditions.drawings import relative_to_first
from core.data.city import WorldMap, build_world, dilate, empty_world
from core.data.palette import CLASS
from core.data.scenario import EGO_LENGTH, EGO_WIDTH, Plan, draw_command, plan_ego, plan_traffic
from core.data.traffic import Agent, boxes_overlap, rasterise_box
from core.types import Command, GridSpec, InputError, Layout, OccupancySequence, Trajectory

FRAME_INTERVAL = 0.2  # seconds between frames
TRAIN_SEEDS = range(0, 1_000_000_000)
TEST_SEEDS = range(1_000_000_000, 1_100_000_000)


def split_seed(split: str, index: int) -> int:
    """The seed of the `index`-th clip of a split; train and test ranges never overlap."""
    seeds = {"train": TRAIN_SEEDS, "test": TEST_SEEDS}
    if split not in seeds:
        raise InputError(f"unknown split {split!r}; expected train or test")
    return seeds[split][index % len(seeds[split])]


@dataclass(frozen=True)
class ProceduralClip:
    scene: OccupancySequence
    trajectory: Trajectory
    command: Command
    layout: Layout


def generate_clip(
    seed: int, *, grid: GridSpec | None = None, convention: str = "anchored", command: Command | str | None = None,
    density: float = 1.0, frame_interval: float = FRAME_INTERVAL,
) -> ProceduralClip:
    """One clip of the procedural city; the same arguments always give the same clip."""
    return generate_drive(seed, grid=grid, convention=convention, command=command, density=density,
                          frame_interval=frame_interval, clips=1)[0]


def generate_drive(
    seed: int, *, grid: GridSpec | None = None, convention: str = "anchored", command: Command | str | None = None,
    density: float = 1.0, frame_interval: float = FRAME_INTERVAL, clips: int = 2,
) -> list[ProceduralClip]:
    """One continuous drive cut into `clips` consecutive clips of `grid.frames` frames.

    The command is planned for the first clip. In the anchored convention each clip is anchored at
    its own first frame; every clip keeps the drive's poses (world = the drive's first ego frame), so
    clips can be placed in one world, and its trajectory is relative to its own first frame.
    """
    grid = grid or GridSpec.preset("cpu")
    if convention not in ("anchored", "ego"):
        raise InputError(f"unknown frame convention {convention!r}; expected anchored or ego")
    if clips < 1:
        raise InputError(f"a drive needs at least 1 clip, got {clips}")
    rng = np.random.default_rng(seed)
    wanted = _pick_command(rng, command)
    clip_duration = (grid.frames - 1) * frame_interval if grid.frames > 1 else 1.0
    times = np.arange(grid.frames * clips) * frame_interval
    plan = plan_ego(rng, wanted, clip_duration)
    ego_poses = plan.ego.poses(times)
    world = build_world(grid, plan.roads, rng, extra_road=_ego_corridor(ego_poses, plan, grid))
    agents = [a for a in plan_traffic(rng, plan, density) if not _hits_ego(a, ego_poses, times)]
    movers = [plan.ego, *agents]
    result = []
    for k in range(clips):
        frames = range(k * grid.frames, (k + 1) * grid.frames)
        anchor = ego_poses[frames.start]
        labels = np.stack([_voxelise(world, grid, movers, times[t], ego_poses[t] if convention == "ego" else anchor)
                           for t in frames])
        result.append(_assemble(seed, grid, convention, labels, world, ego_poses[frames.start: frames.stop], wanted))
    return result


def _pick_command(rng: np.random.Generator, command: Command | str | None) -> Command:
    drawn = draw_command(rng)  # drawn even when given, so a seed's city does not depend on the command
    return drawn if command is None else Command.parse(command)


def _ego_corridor(ego_poses: np.ndarray, plan: Plan, grid: GridSpec) -> np.ndarray:
    """Road under the ego's whole path (including the rest of its turn), so turns never cut a corner."""
    world = empty_world(grid)
    along = plan.ego.path.at(np.arange(-10.0, 60.0, world.resolution / 2))
    cells = world.index(along[:, :2])
    keep = ((cells >= 0) & (cells < world.size)).all(axis=1)
    mask = np.zeros((world.size, world.size), bool)
    mask[cells[keep, 0], cells[keep, 1]] = True
    return dilate(mask, int(np.ceil(2.2 / world.resolution)))


def _hits_ego(agent: Agent, ego_poses: np.ndarray, times: np.ndarray) -> bool:
    """Drop movers that would overlap the ego car in any frame (the ego's drive is fixed first)."""
    size = (agent.length, agent.width)
    return bool(boxes_overlap(ego_poses, (EGO_LENGTH, EGO_WIDTH), agent.poses(times), size, margin=1.0).any())


def _voxelise(world: WorldMap, grid: GridSpec, agents: list[Agent], time: float, frame_pose: np.ndarray) -> np.ndarray:
    """One (X, Y, Z) frame seen from `frame_pose` (x, y, yaw in frame 0's ego frame)."""
    labels = _static_view(world, grid, frame_pose)
    xs, ys = grid.voxel_centers(0), grid.voxel_centers(1)
    cos, sin = np.cos(frame_pose[2]), np.sin(frame_pose[2])
    for agent in agents:
        x, y, yaw = agent.poses(np.array([time]))[0]
        dx, dy = x - frame_pose[0], y - frame_pose[1]
        local = np.array([cos * dx + sin * dy, -sin * dx + cos * dy, yaw - frame_pose[2]])
        top = min(agent.top_layer, grid.cells[2])
        rasterise_box(labels, xs, ys, local, agent.length, agent.width, (1, top), agent.class_id)
    return labels


def _static_view(world: WorldMap, grid: GridSpec, frame_pose: np.ndarray) -> np.ndarray:
    """The static world resampled (nearest cell) into a grid placed at `frame_pose`."""
    gx, gy = np.meshgrid(grid.voxel_centers(0), grid.voxel_centers(1), indexing="ij")
    cos, sin = np.cos(frame_pose[2]), np.sin(frame_pose[2])
    wx = frame_pose[0] + cos * gx - sin * gy
    wy = frame_pose[1] + sin * gx + cos * gy
    ix, iy = world.index(wx), world.index(wy)
    inside = (ix >= 0) & (ix < world.size) & (iy >= 0) & (iy < world.size)
    out = np.zeros((*grid.cells[:2], grid.cells[2]), np.uint8)
    out[inside] = world.volume[ix[inside], iy[inside]]
    return out


def _pose_matrices(poses: np.ndarray) -> np.ndarray:
    """(T, 3) x, y, yaw → (T, 4, 4) world-from-ego matrices."""
    matrices = np.tile(np.eye(4), (len(poses), 1, 1))
    cos, sin = np.cos(poses[:, 2]), np.sin(poses[:, 2])
    matrices[:, 0, 0], matrices[:, 0, 1], matrices[:, 1, 0], matrices[:, 1, 1] = cos, -sin, sin, cos
    matrices[:, 0, 3], matrices[:, 1, 3] = poses[:, 0], poses[:, 1]
    return matrices


def bev_layout(static: np.ndarray) -> np.ndarray:
    """(X, Y, Z) static voxels → (X, Y) class of the top-most occupied voxel of each column."""
    occupied = static > 0
    top = static.shape[2] - 1 - np.argmax(occupied[:, :, ::-1], axis=2)
    layout = np.take_along_axis(static, top[:, :, None], axis=2)[:, :, 0]
    return np.where(occupied.any(axis=2), layout, 0).astype(np.uint8)


def static_bev_layout(frame: np.ndarray) -> np.ndarray:
    """(X, Y, Z) frame → (X, Y) top-most static class: vehicles, pedestrians and bicycles taken out first."""
    movers = [CLASS[name] for name in ("vehicle", "pedestrian", "bicycle")]
    return bev_layout(np.where(np.isin(frame, movers), 0, frame))


def _assemble(
    seed: int, grid: GridSpec, convention: str, labels: np.ndarray, world: WorldMap, ego_poses: np.ndarray,
    wanted: Command,
) -> ProceduralClip:
    trajectory = relative_to_first(ego_poses.astype(np.float64))
    command = command_from_trajectory(trajectory)
    static = _static_view(world, grid, ego_poses[0])
    vehicles = (labels == CLASS["vehicle"]).any(axis=3)
    metadata = {
        "source": "procedural", "seed": int(seed), "command": command.name.lower(),
        "planned_command": wanted.name.lower(), "trajectory": np.round(trajectory.poses, 4).tolist(),
        "frame_interval": FRAME_INTERVAL,
    }
    scene = OccupancySequence(labels, grid, poses=_pose_matrices(ego_poses), convention=convention, metadata=metadata)
    return ProceduralClip(scene, trajectory, command, Layout(bev_layout(static), vehicles))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.data.procedural", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu", help="grid preset: cpu or carlasc")
    parser.add_argument("--seed", type=int, default=0, help="seed of the (first) clip")
    parser.add_argument("--split", choices=["train", "test"], help="take seeds from this split's range, --seed is the index")
    parser.add_argument("--command", help="static, forward, left or right (default: drawn from the seed)")
    parser.add_argument("--frame", choices=["anchored", "ego"], default="anchored", help="frame convention")
    parser.add_argument("--out", help="output .npz for one clip")
    parser.add_argument("--count", type=int, default=1, help="number of clips (with --out-dir)")
    parser.add_argument("--out-dir", help="folder to write clip_<seed>.npz files into")
    args = parser.parse_args(argv)
    from core.data.scene_io import save_scene

    try:
        grid = GridSpec.preset(args.preset)
        command = Command.parse(args.command) if args.command else None
        if bool(args.out) == bool(args.out_dir):
            raise InputError("give exactly one of --out FILE.npz or --out-dir DIR")
        if args.count < 1:
            raise InputError(f"--count must be at least 1, got {args.count}")
        seeds = [split_seed(args.split, args.seed + i) if args.split else args.seed + i for i in range(args.count)]
        targets = [FilePath(args.out)] if args.out else [FilePath(args.out_dir) / f"clip_{s}.npz" for s in seeds]
        from tqdm import tqdm

        for seed, target in tqdm(list(zip(seeds, targets)), disable=len(seeds) < 5, desc="clips"):
            clip = generate_clip(seed, grid=grid, convention=args.frame, command=command)
            save_scene(clip.scene, target)
        print(f"wrote {len(seeds)} clip(s): {targets[0]}{' ...' if len(seeds) > 1 else ''}")
        return 0
    except (InputError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
