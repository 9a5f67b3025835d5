"""Command-line twin of the app's Generate / Inpaint actions.

    python -m core.generate --command left --steps 25 --seed 3 --out scene.npz
        [--layout layout.png] [--trajectory traj.json] [--frames 64] [--sampler dpm++] [--guidance 4]
        [--remove-specks] [--vehicle-boxes]
    python -m core.generate --recipe scene_recipe.json --out again.npz
    python -m core.generate --inpaint source.npz --mask mask.png [--mask-frames 4:12] --out repaired.npz

A command alone (no trajectory, no layout) is driven along a typical path of that command, drawn with
the seed and kept in the recipe (`--no-path`: the command alone). With no condition at all, the command
is drawn too, at the procedural city's frequencies (`--no-path`: the model's unconditional prediction).
Layout and mask pictures are bird's-eye images (+X up, +Y left), resized to the grid. Writes the scene
`.npz` (with its recipe in the metadata) and the recipe alone beside it as `<out>.recipe.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.cli import run_cli
from core.types import SAMPLER_NAMES, Command, Conditions, GenerationRequest, InputError, ProgressEvent, SamplerSettings


def _progress():
    bars: dict[str, tqdm] = {}

    def report(event: ProgressEvent) -> None:
        bar = bars.get(event.stage)
        if bar is None or bar.total != event.total or event.step < bar.n:
            bar = bars[event.stage] = tqdm(total=event.total, desc=event.stage, leave=False)
        bar.set_postfix_str(event.message)
        bar.update(event.step - bar.n)

    return report


def _read_picture(path: str) -> np.ndarray:
    import imageio.v3 as iio

    try:
        return np.asarray(iio.imread(path))
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: not a readable image ({error})") from None


def _conditions(args: argparse.Namespace, service) -> Conditions:
    from core.conditions.drawings import layout_from_image, load_trajectory

    grid = service.scene_grid()
    command = None if args.command is None else Command.parse(args.command)
    layout = None if args.layout is None else layout_from_image(_read_picture(args.layout), grid)
    trajectory = None if args.trajectory is None else load_trajectory(args.trajectory, frames=args.frames)
    return Conditions(command=command, trajectory=trajectory, layout=layout)


def _frame_range(text: str | None) -> range | None:
    if text is None:
        return None
    start, _, stop = text.partition(":")
    try:
        return range(int(start), int(stop))
    except ValueError:
        raise InputError(f"--mask-frames must look like START:STOP, got {text!r}") from None


def run(args: argparse.Namespace) -> Path:
    from core.api import SceneGenerator
    from core.conditions.drawings import mask_from_image
    
    service = SceneGenerator(checkpoints=args.checkpoints, device=args.device)
    settings = SamplerSettings(sampler=args.sampler, steps=args.steps, guidance_scale=args.guidance, seed=args.seed,
                               guidance_from=args.guidance_from, remove_specks=args.remove_specks,
                               vehicle_boxes=args.vehicle_boxes)
    if args.recipe:
        try:
            recipe = json.loads(Path(args.recipe).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise InputError(f"{args.recipe}: not a readable recipe ({error})") from None
        scene = service.generate_from_recipe(recipe, _progress())
    elif args.inpaint:
        if not args.mask:
            raise InputError("--inpaint needs --mask MASK.png (the region to regenerate)")
        source = service.load_scene(args.inpaint)
        mask = mask_from_image(_read_picture(args.mask), source.grid)
        scene = service.inpaint(source, mask, settings, frames=_frame_range(args.mask_frames), on_progress=_progress())
    else:
        request = GenerationRequest(_conditions(args, service), settings, args.frames, command_path=not args.no_path)
        scene = service.generate(request, _progress())
    out = Path(service.save_scene(scene, args.out))
    recipe = scene.metadata.get("recipe") or scene.metadata.get("inpainting")
    out.with_suffix(".recipe.json").write_text(json.dumps(recipe, indent=1))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output scene .npz")
    parser.add_argument("--command", help="static, forward, left or right")
    parser.add_argument("--layout", help="bird's-eye layout picture (palette colours)")
    parser.add_argument("--trajectory", help="trajectory JSON: {'poses': [[x, y, yaw], ...]} or {'waypoints': ...}")
    parser.add_argument("--no-path", action="store_true",
                        help="give the model the --command alone, or with no condition at all the model's "
                             "unconditional prediction (autoguided). By default a command without --trajectory or "
                             "--layout drives a typical path of it, drawn with --seed, and with no condition a "
                             "command is drawn first")
    parser.add_argument("--frames", type=int, default=16, help="16, 32, 64 or 128")
    parser.add_argument("--sampler", default=SamplerSettings().sampler, choices=SAMPLER_NAMES)
    parser.add_argument("--steps", type=int, default=SamplerSettings().steps)
    parser.add_argument("--guidance", type=float, default=SamplerSettings().guidance_scale, help="classifier-free guidance scale")
    parser.add_argument("--guidance-from", type=int, default=SamplerSettings().guidance_from,
                        help="timestep where guidance starts (0..999; 999: every step); noisier steps take the "
                             "conditional prediction alone")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--remove-specks", action="store_true",
                        help="relabel vehicle blobs smaller than a car (away from the grid's edge) with the "
                             "decoder's next choice; off by default: the models' own output")
    parser.add_argument("--vehicle-boxes", action="store_true",
                        help="redraw each car-sized vehicle blob as a solid box of its size and heading, moving "
                             "along a smoothed track (with --remove-specks: the app's 'cars as boxes'); off by "
                             "default: the models' own output")
    parser.add_argument("--recipe", help="regenerate the scene a recipe JSON describes")
    parser.add_argument("--inpaint", help="scene .npz to repair")
    parser.add_argument("--mask", help="bird's-eye mask picture: painted = regenerate")
    parser.add_argument("--mask-frames", help="only these frames, START:STOP")
    parser.add_argument("--checkpoints", default=str(Path(__file__).resolve().parents[1] / "checkpoints"))
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    args = parser.parse_args(argv)

    def body() -> int:
        print(f"wrote {run(args)}")
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
