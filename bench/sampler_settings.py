"""Sampler settings side by side in one run: samplers and step counts, and where guidance starts.

    python bench/sampler_settings.py [--requests 16] [--reference 256]
        [--samplers dpm++:25 dpm++sde:25 dpm++:25:2] [--from-steps 700 500 300]
        [--layout-only | --unconditional [--model-alone]] [--vehicles] [--keep DIR]

Generates the report's sampler-study requests (command + trajectory + layout, seeds 0..n-1) with the
shipped models: once per `--samplers` entry (NAME:STEPS[:GUIDANCE[:specks|boxes]], guidance at every
step, at the default scale unless given; `specks` removes the decoded scenes' vehicle specks, `boxes`
also redraws their cars as boxes, `core.postprocess`: with `--keep`, both decoded from the same kept
samples as the entry without), then with the first entry once per `--from-steps` value (guidance only at
timesteps ≤ it, the conditional prediction alone before). Prints per setting the scene distance to
`--reference` real test scenes, precision / recall, adherence (layout IoU, median final error of the ego
car, command accuracy), vehicle debris (the share of vehicle blobs smaller than a car) and seconds per
scene. `--layout-only` asks for the same clips' layouts alone (the report's "layout only" set),
`--unconditional` for nothing (the report's unconditional set: the generator draws a command at the
procedural city's frequencies and drives a typical path of it; the precision is then also printed per
drawn command), and with `--model-alone` gives the model nothing (the report's "model alone" set), which
the guide model steers when the checkpoints hold one (autoguidance, `core.pipeline`; guidance 1 is the
DiT alone, so `--samplers dpm++:25:1 dpm++:25:4` sets the two side by side). `--vehicles` adds each
clip's per-frame vehicle occupancy to its layout (the layout's optional second part). Last, the first
setting's scene distance over each other's, with the report's paired interval over the requests
(`FeatureSpace.fsd_ratio`): with `--samplers dpm++:25 ddpm:1000 --from-steps`, the default over the
1000-step reference (target ≤ 1.05). That reference takes about two minutes a scene on 2 cores: `--keep
DIR` keeps every generated scene in DIR and reads back those already there, so a run stopped midway (a
session's end) goes on where it stopped; with another decoder, it decodes the DiT's kept samples.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.api import DEFAULT_CHECKPOINTS, SceneGenerator  # noqa: E402
from core.checkpoint import load_bundle  # noqa: E402
from core.eval import suite  # noqa: E402
from core.eval.kept import KeptScenes  # noqa: E402
from core.postprocess import vehicle_cleanup  # noqa: E402
from core.types import SamplerSettings  # noqa: E402


def sampler_spec(text: str) -> SamplerSettings:
    """'dpm++sde:50' or 'dpm++:25:2' → the default settings with that sampler, step count and guidance
    scale, guidance at every step; a last field 'specks' removes the vehicle specks after decoding and
    'boxes' also redraws the cars as boxes ('dpm++:25:4:boxes')."""
    name, _, rest = text.partition(":")
    steps, _, rest = rest.partition(":")
    scale, _, cleanup = rest.partition(":")
    try:
        return SamplerSettings(sampler=name, steps=int(steps or SamplerSettings.steps),
                               guidance_scale=float(scale or SamplerSettings.guidance_scale), guidance_from=None,
                               **vehicle_cleanup(cleanup or "as decoded"))
    except ValueError as error:  # InputError is a ValueError
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME:STEPS[:GUIDANCE[:specks|boxes]], e.g. dpm++:25 "
                                         f"({error})") from None


def spec_text(settings: SamplerSettings) -> str:
    """The `sampler_spec` text of settings it made."""
    cleanup = ":boxes" if settings.vehicle_boxes else ":specks" if settings.remove_specks else ""
    return f"{settings.sampler}:{settings.steps}:{settings.guidance_scale:g}{cleanup}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", default=str(DEFAULT_CHECKPOINTS))
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--reference", type=int, default=256)
    parser.add_argument("--samplers", type=sampler_spec, nargs="+", default=[sampler_spec("dpm++:25")],
                        metavar="NAME:STEPS[:GUIDANCE[:specks|boxes]]")
    parser.add_argument("--from-steps", type=int, nargs="*", default=[700, 500, 300])
    asked_group = parser.add_mutually_exclusive_group()
    asked_group.add_argument("--layout-only", action="store_true", help="the layout alone, no command or path")
    asked_group.add_argument("--unconditional", action="store_true",
                             help="a request with nothing (a drawn drive unless --model-alone)")
    parser.add_argument("--model-alone", action="store_true",
                        help="with --unconditional: the model's unconditional prediction, not a drawn drive")
    parser.add_argument("--vehicles", action="store_true", help="the layout with the clip's vehicle occupancy per frame")
    parser.add_argument("--keep", metavar="DIR", help="keep the generated scenes in DIR and read back those already "
                        "there: a stopped run resumes (core.eval.kept)")
    args = parser.parse_args()
    if args.model_alone and not args.unconditional:
        parser.error("--model-alone goes with --unconditional (a request with nothing)")
    if args.vehicles and args.unconditional:
        parser.error("--vehicles is part of the layout: it cannot go with --unconditional")
    service = SceneGenerator(checkpoints=args.checkpoints)
    if args.keep:
        service = KeptScenes(service, args.keep)
    grid = service.scene_grid()
    network = load_bundle(Path(args.checkpoints) / "scene_features", kind="scene-features")
    space = suite.FeatureSpace(network, [c.scene.labels for c in suite.real_clips(grid, suite.REFERENCE, args.reference)],
                               suite.SIZES["full"].rounds)
    clips = suite.real_clips(grid, suite.CONDITIONS, args.requests)
    moving, drawn = not (args.layout_only or args.unconditional), not args.unconditional
    asked = [suite.conditions_of(c, command=moving, trajectory=moving, layout=drawn, vehicles=args.vehicles) for c in clips]
    settings = [*args.samplers, *(replace(args.samplers[0], guidance_from=start) for start in args.from_steps)]
    chosen = "" if Path(args.checkpoints) == Path(DEFAULT_CHECKPOINTS) else f"--checkpoints {args.checkpoints} "
    print(f"command: python bench/sampler_settings.py {chosen}--requests {args.requests} --reference {args.reference} "
          f"--samplers {' '.join(map(spec_text, args.samplers))} "
          f"--from-steps {' '.join(map(str, args.from_steps))}" + (" --layout-only" if args.layout_only else "")
          + (" --unconditional" if args.unconditional else "") + (" --model-alone" if args.model_alone else "")
          + (" --vehicles" if args.vehicles else ""))
    what = ("nothing, to the model alone" if args.model_alone else "nothing: a drawn drive" if args.unconditional
            else "layout" if args.layout_only else "command + trajectory + layout")
    what += " with vehicle occupancy" if args.vehicles else ""
    print(f"{args.requests} requests ({what})\n")
    print(f"{'sampler':>8}  {'steps':>5}  {'guidance':>8}  {'from':>10}  {'vehicles':>14}  {'FSD 3D':>7}  {'FSD BEV':>7}  {'prec':>5}  "
          f"{'recall':>6}  {'layout':>6}  {'final m':>7}  {'command':>7}  {'debris':>6}  {'s/scene':>7}")
    made = []
    for setting in settings:
        generated = suite.generate_set(service, asked, setting, frames=grid.frames, command_path=not args.model_alone)
        made.append([scene.labels for scene in generated.scenes])
        measured = suite.plain(space.compare(made[-1]))
        followed = {"layout_iou": float("nan"), "final_error_m": float("nan"), "command_accuracy": float("nan"),
                    **suite.adherence_summary(generated.scenes, clips, layout=drawn, trajectory=moving, command=moving)}
        start = "every step" if setting.guidance_from is None else f"t ≤ {setting.guidance_from}"
        vehicles = "boxes" if setting.vehicle_boxes else "specks removed" if setting.remove_specks else "as decoded"
        print(f"{setting.sampler:>8}  {setting.steps:5d}  {setting.guidance_scale:8g}  {start:>10}  {vehicles:>14}  "
              f"{measured['volume_fsd']:7.3f}  "
              f"{measured['bird_eye_fsd']:7.3f}  {measured['precision']:5.2f}  {measured['recall']:6.2f}  "
              f"{followed['layout_iou']:6.3f}  {followed['final_error_m']:7.2f}  {followed['command_accuracy']:7.2f}  "
              f"{suite.temporal_summary(generated.scenes)['vehicle_debris']:6.2f}  {generated.seconds_per_scene:7.2f}", flush=True)
        if args.unconditional and not args.model_alone:
            print(f"          precision per drawn command: {suite.per_command_text(space.inside_per_command(generated.scenes))}")
    if len(settings) > 1:
        print(f"\nFSD (3D) of {suite.describe(settings[0])} over each other setting's, the same requests and seeds "
              "[95 % interval over the requests]:")
        for setting, labels in zip(settings[1:], made[1:]):
            print(f"  over {suite.describe(setting)}: {space.fsd_ratio(made[0], labels)}")


if __name__ == "__main__":
    main()
