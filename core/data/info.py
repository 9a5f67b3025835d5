"""`python -m core.data.info PATH`: a summary of a scene `.npz`, a CarlaSC or an Occ3D scene folder.

Prints the grid (frames, cells, voxel size, origin), the convention, whether poses are present, the
voxel count and share of every class (names from the palette), the unobserved share and the metadata;
for dataset folders also how many frames the scene has and which of them the summary covers. Bad input
prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import numpy as np

from core.data.palette import PALETTE
from core.data.sources import KIND_NAMES, describe_source, open_reader, open_scene
from core.types import CONVENTIONS, GRID_PRESETS, InputError, OccupancySequence

DEFAULT_CLIP_FRAMES = 16


def _format_triple(values: Sequence[float], unit: str = "") -> str:
    return "×".join(f"{v:g}" for v in values) + unit


def _percent(part: float, total: float) -> str:
    share = 100 * part / max(total, 1)
    # A handful of voxels among millions still matters (a pedestrian): do not print it as 0.00%.
    return "<0.01%" if 0 < share < 0.005 else f"{share:.2f}%"


def _class_table(scene: OccupancySequence) -> list[str]:
    counts = scene.class_counts().sum(axis=0)  # (num_classes,) over all frames
    total = int(counts.sum())
    rows = [f"  {'id':>3}  {'class':<11} {'voxels':>12}  {'share':>8}"]
    for class_id, count in enumerate(counts):
        name = PALETTE.names[class_id] if class_id < len(PALETTE.names) else f"class {class_id}"
        rows.append(f"  {class_id:>3}  {name:<11} {int(count):>12}  {_percent(count, total):>8}")
    return rows


def _poses_line(scene: OccupancySequence) -> str:
    if scene.poses is None:
        return "absent"
    travel = np.linalg.norm(np.diff(scene.poses[:, :3, 3], axis=0), axis=1).sum()
    return f"present ({scene.num_frames}, ego travels {travel:.1f} m)"


def summarize(scene: OccupancySequence, *, source: str, available: int | None = None) -> str:
    """The text `info` prints for `scene`, read from `source` (a description of where it came from)."""
    grid = scene.grid
    lines = [f"source:      {source}"]
    if available is not None:
        start = int(scene.metadata.get("start", 0))
        last = start + scene.num_frames - 1
        lines.append(f"frames:      {available} available; this clip is {start}..{last}")
    lines += [
        f"grid:        {grid.frames} frames × {_format_triple(grid.cells)} cells, "
        f"voxel {_format_triple(grid.voxel_size, ' m')}, origin ({', '.join(f'{v:g}' for v in grid.origin)}) m",
        f"convention:  {scene.convention}",
        f"poses:       {_poses_line(scene)}",
        f"unobserved:  {100 * scene.unobserved_share():.2f}%"
        + (" (no unobserved mask)" if scene.unobserved is None else ""),
        "classes (all frames):",
        *_class_table(scene),
        f"metadata:    {json.dumps(scene.metadata, sort_keys=True)}",
    ]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.data.info", description=__doc__.splitlines()[0])
    parser.add_argument("path", help="a scene .npz, a CarlaSC scene folder or an Occ3D scene folder")
    parser.add_argument("--preset", help=f"resample to this grid ({', '.join(GRID_PRESETS)}); "
                        "default: a .npz's own grid, cpu for dataset folders")
    parser.add_argument("--convention", choices=CONVENTIONS,
                        help="default: a .npz as stored; folders anchored when they have poses, else ego")
    parser.add_argument("--start", type=int, default=0, help="first frame of the clip (dataset folders)")
    parser.add_argument("--frames", type=int,
                        help=f"clip length (dataset folders); default up to {DEFAULT_CLIP_FRAMES}")
    return parser


def run(args: argparse.Namespace) -> str:
    """Open the source named by parsed `args` and return its summary."""
    kind = describe_source(args.path)
    reader = open_reader(args.path)
    available = None if reader is None else reader.num_frames
    frames = args.frames
    if frames is None:
        # Summarise as much of a short scene as there is rather than refusing the default clip length.
        remaining = DEFAULT_CLIP_FRAMES if available is None else available - args.start
        frames = max(1, min(DEFAULT_CLIP_FRAMES, remaining))
    scene = open_scene(
        args.path, preset=args.preset, convention=args.convention, start=args.start, frames=frames,
    )
    return summarize(scene, source=f"{KIND_NAMES[kind]} {args.path}", available=available)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        print(run(args))
    except (InputError, OSError) as error:
        message = " ".join(str(error).split())  # one line, whatever the message held
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
