"""What a finer or larger DiT would cost here: one training step and one guided pass per DiT size, side by side.

    python bench/dit_step.py [--cache DIR] [--steps 3] [--threads N]

For the shipped cpu preset (patch 4), the same with a patch of 2 (four times the tokens),
and the paper's DiT-DC/2 (depth 16, width 384, 8 heads, patch 2), each at the shipped VAE's latent
size: the parameters and kept tokens; one training step as `core.train.train_dit` takes it (batch 8,
the conditions drawn as in training, forward + masked loss + backward + AdamW + EMA, in float32:
the trainer's precision on a CPU unless `--amp on`); one guided DiT pass at sampling (batch 2, no
gradients, the conditions encoded once as the sampler does); and what those come to: the seconds of
DiT passes in one 25-step scene, and the hours of training the shipped DiT's 65,250 steps would take.
Times are medians of `--steps` timed steps after one warm-up, each size in turn in this process; the
ratios are to the cpu preset of the same run.

Without `--cache`, a small latent cache (2 drives of procedural clips, encoded by the shipped VAE) is
made in a temporary folder first; the step time does not depend on which clips the batches hold.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.api import DEFAULT_CHECKPOINTS  # noqa: E402
from core.train.cache_latents import build_cache, open_cache  # noqa: E402
from core.train.train_dit import DiTSettings, DiTTrainer, condition_batch, config_for_cache  # noqa: E402

SIZES = [("cpu (shipped)", "cpu", {}), ("cpu, patch 2", "cpu", {"patch": 2}), ("DiT-DC/2", "DiT-DC/2", {})]
SHIPPED_STEPS = 65_250  # the shipped DiT's training steps (checkpoints/README.md)
SAMPLING_STEPS = 25  # the default sampler's steps


def median_seconds(run, steps: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(cache, preset: str, overrides: dict, steps: int, out: Path) -> dict[str, float]:
    config = config_for_cache(cache, preset, overrides)
    settings = DiTSettings(out, steps=SHIPPED_STEPS, batch=8, lr=3e-4, warmup=500, ema=0.999, save_every=10**9,
                           amp="off", stop_after=None, seed=0)
    trainer = DiTTrainer(config, cache, settings, rank=0, world=1)
    train = median_seconds(trainer.train_step, steps)
    model = trainer.model.eval()
    picked = trainer.indices()[:2]
    generator = torch.Generator().manual_seed(0)
    conditions = condition_batch(cache, picked, config, generator, trainer.normalise)
    x_t = torch.randn(2, *cache.latents.shape[1:], generator=generator)
    t = torch.full((2,), 500)
    with torch.no_grad():
        code = model.encode_conditions(conditions, 2)  # once for all steps, as sampling does
        guided = median_seconds(lambda: model(x_t, t, code), steps)
    return {"parameters": sum(p.numel() for p in model.parameters()) / 1e6, "tokens": int(model.keep.numel()),
            "train": train, "guided": guided}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", help="a latent cache (core.train.cache_latents); default: 2 drives made now")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per size, after one warm-up")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.cache or build_cache(str(Path(DEFAULT_CHECKPOINTS) / "vae_cpu"), str(Path(scratch) / "cache"),
                                           drives=2, resume=False, first_drive=3600)
        cache = open_cache(folder)
        print(f"{torch.get_num_threads()} threads, torch {torch.__version__}, float32; "
              "batch 8 to train, 2 per guided pass\n")
        print(f"{'DiT':<16}  {'params M':>8}  {'tokens':>6}  {'train s/step':>12}  {'guided pass s':>13}  "
              f"{'25 steps s':>10}  {'65,250 steps h':>14}  {'× cpu':>5}")
        base = None
        for name, preset, overrides in SIZES:
            figures = measure(cache, preset, overrides, args.steps, Path(scratch) / "run")
            base = base or figures
            print(f"{name:<16}  {figures['parameters']:8.1f}  {figures['tokens']:6d}  {figures['train']:12.2f}  "
                  f"{figures['guided']:13.3f}  {SAMPLING_STEPS * figures['guided']:10.1f}  "
                  f"{SHIPPED_STEPS * figures['train'] / 3600:14.0f}  {figures['train'] / base['train']:5.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
