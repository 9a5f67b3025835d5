"""Train the scene feature network: `python -m core.eval.train_features --out runs/features`.

A pool of procedural training clips (anchored convention, traffic density varied so object counts
vary) is made once; each batch corrupts half of its clips on the fly (`core.eval.corruptions`), and
the network learns command, class shares, object counts, motion, and the corruption and its strength
(`core.eval.features`). Held-out procedural test clips give the command accuracy and the regression
error printed at the end and stored with the bundle. Resumable like the other training CLIs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from core.checkpoint import save_bundle
from core.cli import run_cli
from core.config import FEATURE_PRESETS, SceneFeatureConfig, config_from_dict, config_to_dict, grid_for
from core.data.procedural import generate_clip, split_seed
from core.eval.corruptions import NAMES as CORRUPTION_NAMES, corrupt
from core.eval.features import SceneFeatureNet, SceneTargets, batch_targets, scene_targets, target_loss
from core.train.common import save_state_file
from core.types import GridSpec, InputError

SEED_OFFSET = 20_000_000  # training seeds of this network, apart from the VAE's and the DiT's


def make_pool(grid: GridSpec, split: str, count: int, *, offset: int = 0) -> list[tuple[np.ndarray, int]]:
    """`count` clips of a split with their commands; densities cycle through 0.4..1.6 so counts vary."""
    pool = []
    for index in tqdm(range(count), desc=f"{split} clips", leave=False):
        density = 0.4 + 0.3 * (index % 5)
        clip = generate_clip(split_seed(split, offset + index), grid=grid, density=density)
        pool.append((clip.scene.labels, int(clip.command)))
    return pool


def corrupted_batch(items: list[tuple[np.ndarray, int]], rng: np.random.Generator) -> tuple[torch.Tensor, SceneTargets]:
    """Labels (B, T, X, Y, Z) of the clips, half of them corrupted, and the targets of what was made."""
    scenes, targets = [], []
    for labels, command in items:
        scene, kind, strength = corrupt(labels, rng)
        scenes.append(scene)
        targets.append(scene_targets(scene, command, kind, strength))
    return torch.from_numpy(np.stack(scenes).astype(np.int64)), batch_targets(targets)


def evaluate(model: SceneFeatureNet, pool: list[tuple[np.ndarray, int]]) -> dict[str, float]:
    """Command accuracy (clean clips), corruption accuracy and loss of both branches on held-out clips."""
    model.eval()
    k, kinds = model.config.num_commands, len(CORRUPTION_NAMES)
    with torch.no_grad():
        labels, targets = corrupted_batch(pool, np.random.default_rng(1))
        clean = targets.corruption == 0
        results = {}
        for name, prediction in zip(("volume", "bird_eye"), model(labels)):
            command = prediction[:, :k].argmax(1) == targets.command
            corruption = prediction[:, -kinds - 1: -1].argmax(1) == targets.corruption
            results[f"{name}_command_accuracy"] = float(command[clean].float().mean())
            results[f"{name}_corruption_accuracy"] = float(corruption.float().mean())
            results[f"{name}_loss"] = float(target_loss(prediction, targets, k))
    model.train()
    return results


def train(config: SceneFeatureConfig, out: Path, *, steps: int, batch: int, pool_size: int, lr: float, resume: bool) -> dict:
    torch.manual_seed(0)
    model = SceneFeatureNet(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    state_path, step, elapsed = out / "train_state.pt", 0, 0.0
    if resume:
        state = torch.load(state_path, weights_only=True)
        if config_from_dict(SceneFeatureConfig, json.loads(state["config"])) != config:
            raise InputError(f"{state_path}: was trained with a different config")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed = int(state["step"]), float(state["elapsed"])
    grid = grid_for(config.frames, config.cells)
    pool = make_pool(grid, "train", pool_size, offset=SEED_OFFSET) if step < steps else []
    order = np.random.default_rng(0).permutation(np.arange(steps * batch) % pool_size)
    for step in tqdm(range(step, steps), initial=step, total=steps, desc="features"):
        started = time.monotonic()
        labels, targets = corrupted_batch([pool[i] for i in order[step * batch: (step + 1) * batch]],
                                          np.random.default_rng(step))
        for group in optimizer.param_groups:
            group["lr"] = float(lr * 0.5 * (1 + np.cos(np.pi * step / steps)))
        volume, bird_eye = model(labels)
        loss = target_loss(volume, targets, config.num_commands) + target_loss(bird_eye, targets, config.num_commands)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        elapsed += time.monotonic() - started
        if (step + 1) % 100 == 0 or step + 1 == steps:
            save_state_file({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step + 1,
                             "elapsed": elapsed, "config": json.dumps(config_to_dict(config))}, state_path)
    held_out = evaluate(model, make_pool(grid, "test", 128, offset=SEED_OFFSET))
    notes = {"steps": steps, "train_minutes": round(elapsed / 60, 1), "pool": pool_size, "held_out": held_out,
             "command": " ".join(["python -m core.eval.train_features", *sys.argv[1:]])}
    save_bundle(model, out / "model", kind="scene-features", notes=notes)
    return held_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.eval.train_features", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="run folder; the bundle goes to OUT/model")
    parser.add_argument("--preset", default="cpu", choices=list(FEATURE_PRESETS))
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--pool", type=int, default=1200, help="procedural training clips")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)

    def body() -> int:
        if args.steps < 1 or args.pool < args.batch:
            raise InputError("--steps must be at least 1 and --pool at least --batch")
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        held_out = train(FEATURE_PRESETS[args.preset], out, steps=args.steps, batch=args.batch, pool_size=args.pool,
                         lr=args.lr, resume=args.resume)
        for name, value in held_out.items():
            print(f"{name}: {value:.4f}")
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
