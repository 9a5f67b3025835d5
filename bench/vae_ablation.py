"""VAE ablation at an equal training budget: Projection Module vs average pooling, and Expansion &
Squeeze vs the per-voxel query decoder (DynamicCity Tables 4 and 5, on our procedural city), and the
projection with direct scores (`projection_scores`, a test of why the projection stays near a mean).

    python bench/vae_ablation.py [--steps 600] [--eval-every N] [--eval-clips 8] [--convention anchored|ego]
                                 [--out runs/ablation] [--resume] [--only VARIANT ...]

Each variant trains from the same seed on the same clips for the same number of steps (cpu preset, the
trainer's default precision; anchored clips, or with `--convention ego` clips in the ego vehicle's
frame, as CarlaSC and Occ3D store them, where the static world moves through the grid), then is
evaluated on the same held-out test clips (also every `--eval-every` steps on the way, in each
variant's metrics.jsonl). Printed: held-out mIoU, binary IoU, training minutes and
seconds per step, and the differences to the full model. Runs are resumable (`--resume`), since a budget
of many minutes per variant is the point.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.train.train_vae import main as train_main  # noqa: E402

VARIANTS = {
    "projection + expansion (ours)": [],
    "average pooling + expansion": ["projection=average"],
    "projection + query decoder": ["decoder=query"],
    "projection with direct scores + expansion": ["projection_scores=true"],
}


def last_eval(folder: Path) -> dict:
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "eval" in r]
    steps = [r for r in records if "loss" in r]
    return {**evals[-1]["eval"], "step": evals[-1]["step"], "seconds": steps[-1]["seconds"] if steps else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--eval-clips", type=int, default=8)
    parser.add_argument("--eval-every", type=int, help="also evaluate every N steps (default: only at the end)")
    parser.add_argument("--out", default="runs/ablation")
    parser.add_argument("--convention", choices=["anchored", "ego"], default="anchored")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS),
                        help="just these variants (one per process to train them at once; all of them done to print their table)")
    args = parser.parse_args()
    print(f"command: python bench/vae_ablation.py --steps {args.steps} --eval-clips {args.eval_clips} "
          f"--convention {args.convention}")
    results = {}
    for name, overrides in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        suffix = "" if args.convention == "anchored" else f"_{args.convention}"
        folder = Path(args.out) / (name.split(" (")[0].replace(" + ", "_").replace(" ", "-") + suffix)
        done = (folder / "metrics.jsonl").is_file() and last_eval(folder)["step"] >= args.steps
        if not done:
            command = ["--out", str(folder), "--preset", "cpu", "--steps", str(args.steps), "--eval-every", str(args.eval_every or args.steps),
                       "--eval-clips", str(args.eval_clips), "--warmup", "100", "--density", "1.5",
                       "--convention", args.convention]
            command += ["--set", *overrides] if overrides else []
            command += ["--resume"] if args.resume and (folder / "train_state.pt").is_file() else []
            train_main(command)
        results[name] = last_eval(folder)
    full = results.get("projection + expansion (ours)")
    print(f"\n{'variant':32} {'steps':>6} {'min':>6} {'s/step':>7} {'mIoU':>7} {'binIoU':>7} {'ΔmIoU':>7}")
    for name, r in results.items():
        delta = f"{100 * (r['miou'] - full['miou']):+7.2f}" if full else "      -"
        print(f"{name:32} {r['step']:6d} {r['seconds'] / 60:6.1f} {r['seconds'] / max(r['step'], 1):7.2f} "
              f"{100 * r['miou']:7.2f} {100 * r['binary_iou']:7.2f} {delta}")


if __name__ == "__main__":
    main()
