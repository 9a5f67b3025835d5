"""Evaluation CLI.

    python -m core.eval recon [--vae DIR] [--data procedural|PATH] [--n N] [--convention anchored|ego]
    python -m core.eval recon-video --out input_vs_recon.mp4 [--vae DIR] [--index I] [--camera bev]
    python -m core.eval report --out report/ [--quick] [--checkpoints DIR] [--sampler-scenes N] [--keep DIR]
    python -m core.eval samples --out assets/samples [--checkpoints DIR]

`recon` encodes and decodes held-out clips (procedural test seeds by default, or the held-out windows
of a CarlaSC / Occ3D folder) with a VAE bundle (the shipped one by default) and prints the per-class
IoU table, binary IoU, the compression ratio, and as its last line `mIoU: NN.NN`. `recon-video`
renders one held-out clip and its reconstruction side by side. `report` measures the shipped models
(sample quality, condition adherence, inpainting, long scenes, temporal consistency, the sampler
study) and writes `OUT/README.md` with its plots (core.eval.report); with `--keep DIR` it keeps every
generated scene in DIR and reads back those already there, so a report stopped midway resumes; with
another decoder it decodes the DiT's kept samples instead of sampling again (core.eval.kept).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from core.checkpoint import load_bundle
from core.data.palette import PALETTE
from core.eval.recon import evaluate_reconstruction
from core.train.clips import make_clip_source
from core.cli import run_cli
from core.types import InputError

DEFAULT_CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"
DEFAULT_VAE = DEFAULT_CHECKPOINTS / "vae_cpu"


def recon(args: argparse.Namespace) -> int:
    model = load_bundle(args.vae, kind="hexplane-vae")
    source = make_clip_source(args.data, model.config, convention=args.convention)
    clips = source.eval_clips(args.n)
    bar = tqdm(total=len(clips), desc="reconstructing", leave=False)
    report = evaluate_reconstruction(model, clips, on_clip=lambda _: bar.update(1))
    bar.close()
    print(f"VAE {args.vae} on {len(clips)} held-out {args.data} clips ({args.convention} convention)")
    print(f"{'class':12} {'IoU':>7}")
    for class_id, iou in report.per_class.items():
        print(f"{PALETTE.names[class_id]:12} {100 * iou:7.2f}")
    print(f"binary IoU: {100 * report.binary_iou:.2f}")
    print(f"compression ratio: {model.config.compression_ratio:.2f}")
    print(f"mIoU: {100 * report.miou:.2f}")
    return 0


def recon_video(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from core.render import side_by_side
    from core.types import OccupancySequence, RenderSettings

    model = load_bundle(args.vae, kind="hexplane-vae")
    clip = make_clip_source(args.data, model.config, convention=args.convention).eval_clips(args.index + 1)[-1]
    labels = torch.from_numpy(clip.labels.astype(np.int64))[None]
    decoded = model.reconstruct(labels)[0].numpy().astype(np.uint8)
    recon = OccupancySequence(decoded, clip.grid, clip.poses, clip.unobserved, clip.convention, dict(clip.metadata))
    settings = RenderSettings(camera=args.camera, width=480, height=360)
    path = side_by_side(clip, recon, args.out, settings, titles=("input", "VAE reconstruction"))
    print(f"wrote {path}")
    return 0


def report(args: argparse.Namespace) -> int:
    from core.api import SceneGenerator
    from core.eval.kept import KeptScenes
    from core.eval.report import build_report

    if args.sampler_scenes is not None and args.sampler_scenes < 4:
        raise InputError(f"--sampler-scenes must be at least 4 (precision and recall need 4 scenes), got {args.sampler_scenes}")
    checkpoints = Path(args.checkpoints)
    vae = load_bundle(checkpoints / "vae_cpu", kind="hexplane-vae")
    network = load_bundle(checkpoints / "scene_features", kind="scene-features")
    service = SceneGenerator(checkpoints=checkpoints)
    path = build_report(service if args.keep is None else KeptScenes(service, args.keep), vae, network, Path(args.out),
                        quick=args.quick, sampler_scenes=args.sampler_scenes, checkpoints=checkpoints)
    print(f"wrote {path}")
    return 0


def samples(args: argparse.Namespace) -> int:
    from core.api import SceneGenerator
    from core.eval.samples import make_samples

    for path in make_samples(SceneGenerator(checkpoints=Path(args.checkpoints)), Path(args.out)):
        print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.eval", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("recon", help="VAE reconstruction: per-class IoU and mIoU")
    rec.add_argument("--vae", default=str(DEFAULT_VAE), help="VAE bundle folder (default: the shipped one)")
    rec.add_argument("--data", default="procedural", help="'procedural' (test seeds) or a CarlaSC / Occ3D folder")
    rec.add_argument("--n", type=int, default=32, help="number of held-out clips")
    rec.add_argument("--convention", choices=["anchored", "ego"], default="anchored")
    video = commands.add_parser("recon-video", help="a held-out clip and its reconstruction side by side")
    video.add_argument("--out", required=True, help="output .mp4 or .gif")
    video.add_argument("--vae", default=str(DEFAULT_VAE))
    video.add_argument("--data", default="procedural")
    video.add_argument("--index", type=int, default=0, help="which held-out clip")
    video.add_argument("--camera", default="bev", choices=["chase", "bev", "orbit"])
    video.add_argument("--convention", choices=["anchored", "ego"], default="anchored")
    full = commands.add_parser("report", help="the evaluation report: quality, adherence, sampler study")
    full.add_argument("--out", default="report", help="output folder")
    full.add_argument("--quick", action="store_true", help="small sets: a few minutes on 2 cores")
    full.add_argument("--checkpoints", default=str(DEFAULT_CHECKPOINTS), help="folder with vae_cpu, dit_cpu, scene_features (and optionally dit_guide_cpu)")
    full.add_argument("--sampler-scenes", type=int, help="requests of the sampler study (default: 16 full, 4 quick; "
                      "DDPM-1000 takes about two minutes each)")
    full.add_argument("--keep", metavar="DIR", help="keep the generated scenes in DIR and read back those already there, "
                      "so a stopped report resumes (core.eval.kept)")
    shown = commands.add_parser("samples", help="one video per kind of request (core.eval.samples)")
    shown.add_argument("--out", default="assets/samples", help="output folder")
    shown.add_argument("--checkpoints", default=str(DEFAULT_CHECKPOINTS))
    args = parser.parse_args(argv)

    def body() -> int:
        if args.command == "recon-video":
            return recon_video(args)
        if args.command == "report":
            return report(args)
        if args.command == "samples":
            return samples(args)
        if args.n < 1:
            raise InputError(f"--n must be at least 1, got {args.n}")
        return recon(args)

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
