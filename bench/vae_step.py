"""One VAE training step (forward + loss + backward + optimiser step, batch 1): time and peak memory.

    python bench/vae_step.py [--quick] [--skip-carlasc-reference] [--threads N]

Measures our HexPlane VAE (as trained: the trainer's default precision, float32 on the CPU since the
bfloat16 fault of `core.train.common.autocast_dtype`; our loss with its Lovász subset; and in fp32)
against the DynamicCity release's design (`bench/reference_vae.py`: fp32, Lovász over every voxel, as
the release trains on a CPU) at the cpu and carlasc presets, and the Expansion & Squeeze decoder against
the per-voxel query decoder (same encoder), then prints the ratios side by side (DESIGN §5).

Every configuration runs in a fresh subprocess, on one procedural clip (`generate_clip(0)` at the preset's
grid). Time: median wall-clock seconds of the timed steps after the warm-up steps. Memory: that process's
peak resident set size (`getrusage(RUSAGE_SELF).ru_maxrss`) minus the same figure taken after the imports
and the clip were made and before the model was built, so it counts the model, the optimiser state and
every activation and temporary of the step.

Peak RSS also counts memory glibc's malloc keeps after it was freed: after the first large free it raises
its mmap threshold (up to 32 MiB), so later tensors come from heap arenas that are not returned to the
system, and a step's freed intermediates stay resident into the next step. Each configuration therefore
also runs once more, for memory only, with `MALLOC_MMAP_THRESHOLD_=131072` (a fixed threshold: every
tensor above 128 KiB is returned when freed), whose peak is the memory the step itself needs ("needed MB").
Times come from the first run: with that setting every large tensor costs fresh zeroed pages.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.reference_vae import (  # noqa: E402
    ReferenceHexPlaneVAE, ReferenceVAEConfig, reference_class_weights, reference_loss,
)
from core.config import vae_preset  # noqa: E402
from core.data.procedural import generate_clip  # noqa: E402
from core.models.losses import class_weights, vae_loss  # noqa: E402
from core.models.vae import HexPlaneVAE  # noqa: E402

from core.train.common import autocast_dtype  # noqa: E402

RESULT_PREFIX = "RESULT "
RETURN_FREED = {"MALLOC_MMAP_THRESHOLD_": "131072"}  # glibc: return every freed tensor above 128 KiB
# A model, a closure running one training step on it, and the precision it runs in.
Built = tuple[torch.nn.Module, Callable[[], None], str]


@dataclass(frozen=True)
class StepCase:
    """One configuration to time. model: "ours" | "reference"; precision: "as-trained" | "fp32"."""

    label: str
    model: str
    preset: str
    precision: str = "fp32"
    decoder: str = "expansion"
    warmup: int = 1
    steps: int = 3


@dataclass(frozen=True)
class StepResult:
    label: str
    parameters: int
    seconds: list[float]
    peak_bytes: int
    dtype: str
    needed_bytes: int = 0  # peak with freed memory returned to the system (a second run)

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds)


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def clip_labels(preset: str) -> tuple[torch.Tensor, np.ndarray]:
    """(1, T, X, Y, Z) int64 class ids of procedural clip 0 at the preset's grid, and its class counts + 1."""
    config = vae_preset(preset)
    scene = generate_clip(0, grid=config.grid()).scene
    labels = torch.from_numpy(scene.labels.astype(np.int64))[None]
    return labels, np.bincount(scene.labels.ravel(), minlength=config.num_classes) + 1.0


def ours_step(case: StepCase, labels: torch.Tensor, counts: np.ndarray) -> Built:
    """Our model and one training step as `core.train.train_vae.Trainer.train_step` runs it."""
    model = HexPlaneVAE(vae_preset(case.preset, decoder=case.decoder))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    weights = class_weights(counts)
    amp = autocast_dtype("auto", torch.device("cpu")) if case.precision == "as-trained" else None
    generator = torch.Generator().manual_seed(0)

    def step() -> None:
        with torch.autocast("cpu", dtype=amp or torch.float32, enabled=amp is not None):
            logits, mean, log_var = model(labels, generator=generator)
        terms = vae_loss(logits, labels, mean, log_var, weights=weights, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return model, step, "bf16 autocast" if amp is not None else "fp32"


def reference_step(case: StepCase, labels: torch.Tensor, counts: np.ndarray) -> Built:
    """The release's design and step: fp32, Adam (lr 1e-3, no weight decay, no clipping), full Lovász."""
    config = vae_preset(case.preset)
    reference = ReferenceVAEConfig(num_classes=config.num_classes, frames=config.frames, cells=config.cells)
    model = ReferenceHexPlaneVAE(reference)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    weights = reference_class_weights(counts)

    def step() -> None:
        logits, means, log_vars = model(labels)
        loss = reference_loss(logits, labels, means, log_vars, weights=weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return model, step, "fp32"


def measure(case: StepCase) -> StepResult:
    """Run `case` in this process. Its memory figure is only meaningful in a fresh process (see `run_in_subprocess`)."""
    labels, counts = clip_labels(case.preset)
    baseline = peak_rss_bytes()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        build = ours_step if case.model == "ours" else reference_step
        model, step, dtype = build(case, labels, counts)
        model.train()
        seconds = []
        for index in range(case.warmup + case.steps):
            started = time.perf_counter()
            step()
            if index >= case.warmup:
                seconds.append(time.perf_counter() - started)
    parameters = sum(p.numel() for p in model.parameters())
    return StepResult(case.label, parameters, seconds, peak_rss_bytes() - baseline, dtype)


def run_in_subprocess(case: StepCase, threads: int, env: dict[str, str] | None = None) -> StepResult:
    """`measure(case)` in a fresh Python process, so its peak RSS belongs to this configuration alone."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(asdict(case)), "--threads", str(threads)]
    finished = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})})
    lines = [line for line in finished.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if finished.returncode != 0 or not lines:
        raise RuntimeError(f"{case.label}: measurement failed (exit {finished.returncode}):\n{finished.stderr[-2000:]}")
    return StepResult(**json.loads(lines[-1][len(RESULT_PREFIX):]))


def cases(quick: bool, skip_carlasc_reference: bool) -> list[StepCase]:
    chosen = [
        StepCase("ours cpu (as trained)", "ours", "cpu", "as-trained", warmup=1, steps=4),
        StepCase("ours cpu fp32", "ours", "cpu", "fp32", warmup=1, steps=3),
        StepCase("reference cpu", "reference", "cpu", warmup=1, steps=2),
        StepCase("ours cpu, query decoder (as trained)", "ours", "cpu", "as-trained", decoder="query", warmup=1, steps=3),
    ]
    if not quick:
        chosen.append(StepCase("ours carlasc (as trained)", "ours", "carlasc", "as-trained", warmup=1, steps=2))
        if not skip_carlasc_reference:
            chosen.append(StepCase("reference carlasc", "reference", "carlasc", warmup=1, steps=1))
    return chosen


def print_table(results: dict[str, StepResult]) -> None:
    print(f"\n{'configuration':38} {'params':>10} {'precision':>14} {'steps':>5} {'median s':>9} "
          f"{'min-max s':>13} {'peak MB':>8} {'needed MB':>10}")
    for r in results.values():
        spread = f"{min(r.seconds):.2f}-{max(r.seconds):.2f}"
        print(f"{r.label:38} {r.parameters:10,d} {r.dtype:>14} {len(r.seconds):5d} {r.median_seconds:9.2f} "
              f"{spread:>13} {r.peak_bytes / 2**20:8.0f} {r.needed_bytes / 2**20:10.0f}")


def print_ratios(results: dict[str, StepResult]) -> None:
    """Slower/faster and larger/smaller, each beside its DESIGN §5 target."""
    pairs = [
        ("reference cpu", "ours cpu (as trained)", "≥ 2.00", "≥ 2.00"),
        ("reference cpu", "ours cpu fp32", "", ""),
        ("reference carlasc", "ours carlasc (as trained)", "≥ 2.00", "≥ 2.00"),
        ("ours cpu, query decoder (as trained)", "ours cpu (as trained)", "≥ 2.00", "≥ 3.33 (≥ 70 % less)"),
    ]
    print(f"\n{'ratio':70} {'time':>6} {'target':>7} {'peak':>6} {'needed':>7}  memory target")
    for slow, fast, time_target, memory_target in pairs:
        if slow in results and fast in results:
            a, b = results[slow], results[fast]
            time_ratio = a.median_seconds / b.median_seconds
            peak_ratio = a.peak_bytes / max(b.peak_bytes, 1)
            needed_ratio = a.needed_bytes / max(b.needed_bytes, 1)
            print(f"{slow + ' / ' + fast:70} {time_ratio:6.2f} {time_target:>7} {peak_ratio:6.2f} {needed_ratio:7.2f}  "
                  f"{memory_target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/vae_step.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the carlasc preset")
    parser.add_argument("--skip-carlasc-reference", action="store_true", help="skip the slow carlasc reference (~1 min a step)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads per measurement")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.child:
        result = measure(StepCase(**json.loads(args.child)))
        print(RESULT_PREFIX + json.dumps(asdict(result)))
        return 0
    print("command: " + " ".join(["python bench/vae_step.py", *(argv if argv is not None else sys.argv[1:])]))
    load = os.getloadavg()[0]
    print(f"torch {torch.__version__}, {args.threads} threads, load average {load:.2f} at start")
    if load >= 1.0 and args.threads > 1:
        # Measured here: beside a 2-thread training run, 2-thread steps ran 2-4x slower than 1-thread ones
        # (OpenMP threads wait on preempted siblings), and by different factors per model.
        print("note: the machine is busy; figures with several threads per process are distorted, try --threads 1")
    started = time.monotonic()
    results = {}
    for case in cases(args.quick, args.skip_carlasc_reference):
        timed = run_in_subprocess(case, args.threads)
        needed = run_in_subprocess(replace(case, warmup=1, steps=1), args.threads, RETURN_FREED)
        results[case.label] = replace(timed, needed_bytes=needed.peak_bytes)
        print(f"  measured {case.label}: {results[case.label].median_seconds:.2f} s", flush=True)
    print_table(results)
    print_ratios(results)
    print("\nDESIGN §5, the reference design on 2 idle cores: cpu ≈ 10 s / 3.0 GB, carlasc ≈ 60 s / 9.9 GB a step")
    print(f"total {time.monotonic() - started:.0f} s, load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
