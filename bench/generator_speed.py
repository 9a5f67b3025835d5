"""Procedural city speed: seconds per clip on one core, cpu and carlasc presets, both conventions.

    python bench/generator_speed.py [--clips 20]

Targets (issue 2): ≤ 0.2 s per cpu-preset clip and ≤ 1 s per carlasc-preset clip on one core, so
training is never data-bound.
"""

import os

for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[variable] = "1"  # one core, as a data-loader worker would have

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.procedural import generate_clip, split_seed  # noqa: E402
from core.types import GridSpec  # noqa: E402

TARGETS = {"cpu": 0.2, "carlasc": 1.0}


def seconds_per_clip(preset: str, convention: str, clips: int) -> float:
    grid = GridSpec.preset(preset)
    generate_clip(split_seed("train", 0), grid=grid, convention=convention)  # warm caches and imports
    start = time.perf_counter()
    for index in range(clips):
        generate_clip(split_seed("train", index), grid=grid, convention=convention)
    return (time.perf_counter() - start) / clips


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=20)
    args = parser.parse_args()
    print(f"{'preset':8} {'convention':10} {'s/clip':>7} {'target':>7}  ok")
    for preset, target in TARGETS.items():
        for convention in ("anchored", "ego"):
            seconds = seconds_per_clip(preset, convention, args.clips)
            print(f"{preset:8} {convention:10} {seconds:7.3f} {target:7.2f}  {'yes' if seconds <= target else 'NO'}")


if __name__ == "__main__":
    main()
