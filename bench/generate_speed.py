"""Time to generate one 16-frame cpu-preset scene (sampling + VAE decode) on this machine.

    python bench/generate_speed.py [--checkpoints checkpoints] [--random-weights] [--steps 10 25 50]

Prints, per sampler and step count, the seconds spent sampling (with classifier-free guidance, so two
DiT evaluations per step in one doubled batch) and decoding. With `--random-weights` the shipped
architectures are built untrained, which times the same computation before any checkpoint exists.
Target (issue 4): ≤ 10 s at the default settings (DPM-Solver++, 25 steps) on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from core.checkpoint import load_bundle  # noqa: E402
from core.conditions.tensors import to_dit_conditions  # noqa: E402
from core.config import dit_preset, vae_preset  # noqa: E402
from core.models.dit import HexPlaneDiT  # noqa: E402
from core.models.vae import HexPlaneVAE  # noqa: E402
from core.pipeline import LatentPipeline  # noqa: E402
from core.types import Command, Conditions, SamplerSettings  # noqa: E402


def build(args: argparse.Namespace) -> LatentPipeline:
    if args.random_weights:
        vae = HexPlaneVAE(vae_preset("cpu"))
        dit = HexPlaneDiT(dit_preset("cpu", latent_channels=vae.config.latent_channels,
                                     latent_sizes=vae.config.latent_sizes))
        return LatentPipeline(vae, dit)
    folder = Path(args.checkpoints)
    return LatentPipeline(load_bundle(folder / "vae_cpu", kind="hexplane-vae"),
                          load_bundle(folder / "dit_cpu", kind="hexplane-dit"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoints", default="checkpoints")
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--steps", type=int, nargs="*", default=[10, 25, 50])
    parser.add_argument("--samplers", nargs="*", default=["dpm++", "ddim"])
    args = parser.parse_args()
    print(f"command: python bench/generate_speed.py {' '.join(sys.argv[1:])}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    pipeline = build(args)
    conditions = to_dit_conditions(Conditions(command=Command.FORWARD), pipeline.dit.config, pipeline.vae.config.cells)
    pipeline.sample(conditions, SamplerSettings(steps=2))  # warm-up: first calls allocate and pick kernels
    print(f"\n{'sampler':8} {'steps':>5} {'sample s':>9} {'decode s':>9} {'total s':>8}  ≤ 10 s")
    for sampler in args.samplers:
        for steps in args.steps:
            started = time.perf_counter()
            rolled = pipeline.sample(conditions, SamplerSettings(sampler=sampler, steps=steps, seed=1))
            sampled = time.perf_counter()
            pipeline.decode(rolled)
            done = time.perf_counter()
            total = done - started
            print(f"{sampler:8} {steps:5d} {sampled - started:9.2f} {done - sampled:9.2f} {total:8.2f}  "
                  f"{'yes' if total <= 10 else 'NO'}")


if __name__ == "__main__":
    main()
