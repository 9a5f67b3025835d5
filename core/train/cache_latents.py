"""Encode procedural drives once with a trained VAE, so DiT training never runs the VAE encoder.

    python -m core.train.cache_latents --vae checkpoints/vae_cpu --out runs/latents --drives 2000 [--first-drive N] [--resume]

Each drive is two consecutive anchored clips (core.data.procedural.generate_drive); both are stored,
the second with the index of the first as its "earlier clip". A cache folder holds plain arrays
(no pickle): `latents.f16` (N, C, H, W) float16 padded rollouts of μ, `conditions.npz` (commands,
trajectories, layouts, packed vehicle occupancy, earlier index, seeds) and `meta.json` (VAE, grid,
count, per-channel latent mean/std over the cache). Interrupted runs continue with `--resume`.
Drive k of a cache is the procedural training drive `first_drive + k`, so a cache made with
`--first-drive` past an earlier cache's drives holds only drives a model trained on that one never saw.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from core.checkpoint import bundle_hash, load_bundle
from core.data.procedural import ProceduralClip, generate_drive, split_seed
from core.models.hexplane import rollout, rollout_shape
from core.cli import run_cli
from core.types import InputError

CLIPS_PER_DRIVE = 2


@dataclass
class LatentCache:
    """A cache folder opened for reading: latents as a read-only memmap, conditions in memory."""

    folder: Path
    latents: np.ndarray  # (N, C, H, W) float16
    commands: np.ndarray  # (N,) int64
    trajectories: np.ndarray  # (N, T, 3) float32
    layouts: np.ndarray  # (N, X, Y) uint8
    vehicles: np.ndarray  # (N, T, X, Y) bool
    earlier: np.ndarray  # (N,) int64, -1 when the clip starts a drive
    meta: dict

    def __len__(self) -> int:
        return int(self.meta["count"])


def open_cache(folder: str | Path) -> LatentCache:
    folder = Path(folder)
    if not (folder / "meta.json").is_file():
        raise InputError(f"{folder}: not a latent cache (meta.json missing); make one with core.train.cache_latents")
    meta = json.loads((folder / "meta.json").read_text())
    count, shape = int(meta["count"]), tuple(meta["latent_shape"])
    latents = np.memmap(folder / "latents.f16", dtype=np.float16, mode="r", shape=(count, *shape))
    with np.load(folder / "conditions.npz", allow_pickle=False) as data:
        arrays = {key: data[key][:count] for key in data.files}
    vehicles = np.unpackbits(arrays["vehicles"], axis=-1, count=meta["cells"][1]).astype(bool)
    return LatentCache(folder, latents, arrays["commands"], arrays["trajectories"], arrays["layouts"], vehicles,
                       arrays["earlier"], meta)


@torch.no_grad()
def encode_clips(model, clips: list[ProceduralClip]) -> np.ndarray:
    """(N, C, H, W) float16 padded rollouts of the VAE's μ for a list of clips."""
    labels = torch.from_numpy(np.stack([c.scene.labels for c in clips]).astype(np.int64))
    mean, _ = model.encode(labels)
    return rollout(mean).numpy().astype(np.float16)


def _condition_arrays(clips: list[ProceduralClip], first_index: int) -> dict[str, np.ndarray]:
    return {
        "commands": np.array([int(c.command) for c in clips], np.int64),
        "trajectories": np.stack([c.trajectory.poses for c in clips]).astype(np.float32),
        "layouts": np.stack([c.layout.static for c in clips]),
        "vehicles": np.packbits(np.stack([c.layout.vehicles for c in clips]), axis=-1),
        "earlier": np.array([-1 if k == 0 else first_index + k - 1 for k in range(len(clips))], np.int64),
        "seeds": np.array([int(c.scene.metadata["seed"]) for c in clips], np.int64),
    }


def _write_meta(folder: Path, meta: dict, latents: np.memmap) -> None:
    sample = np.asarray(latents[: min(meta["count"], 512)], dtype=np.float32)  # statistics of a sample
    meta["channel_mean"] = sample.mean(axis=(0, 2, 3)).tolist() if len(sample) else None
    meta["channel_std"] = sample.std(axis=(0, 2, 3)).tolist() if len(sample) else None
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))


def drive_seed(drive: int) -> int:
    """The procedural seed of training drive `drive` (the train split, offset from the clip seeds)."""
    return split_seed("train", 10_000_000 + drive)


def build_cache(vae_folder: str, out: str, *, drives: int, resume: bool, first_drive: int = 0,
                batch_drives: int = 2) -> Path:
    model = load_bundle(vae_folder, kind="hexplane-vae")
    grid = model.config.grid()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    shape = (model.config.latent_channels, *rollout_shape(model.config.latent_sizes))
    total = drives * CLIPS_PER_DRIVE
    meta = {"vae": str(vae_folder), "vae_hash": bundle_hash(vae_folder), "latent_shape": list(shape),
            "latent_sizes": list(model.config.latent_sizes), "extent": grid.extent[0],
            "cells": list(grid.cells), "frames": grid.frames, "count": 0, "capacity": total, "drives": drives,
            "first_drive": first_drive}
    arrays: dict[str, list] = {}
    if resume and (folder / "meta.json").is_file():
        cache = open_cache(folder)
        if (cache.meta["vae_hash"], cache.meta["capacity"], cache.meta.get("first_drive", 0)) != (meta["vae_hash"], total, first_drive):
            raise InputError(f"{folder}: was made with another VAE, size or first drive; drop --resume or use another --out")
        meta["count"] = len(cache)
        with np.load(folder / "conditions.npz", allow_pickle=False) as data:
            arrays = {key: [data[key][: len(cache)]] for key in data.files}
    latents = np.memmap(folder / "latents.f16", dtype=np.float16, mode="r+" if meta["count"] else "w+", shape=(total, *shape))
    bar = tqdm(total=drives, initial=meta["count"] // CLIPS_PER_DRIVE, desc="drives")
    for drive in range(meta["count"] // CLIPS_PER_DRIVE, drives, batch_drives):
        clips = []
        for index in range(drive, min(drive + batch_drives, drives)):
            clips += generate_drive(drive_seed(first_drive + index), grid=grid, clips=CLIPS_PER_DRIVE)
        start = meta["count"]
        latents[start: start + len(clips)] = encode_clips(model, clips)
        for k in range(0, len(clips), CLIPS_PER_DRIVE):
            for key, value in _condition_arrays(clips[k: k + CLIPS_PER_DRIVE], start + k).items():
                arrays.setdefault(key, []).append(value)
        meta["count"] = start + len(clips)
        latents.flush()
        np.savez(folder / "conditions.npz", **{key: np.concatenate(values) for key, values in arrays.items()})
        _write_meta(folder, meta, latents)
        bar.update(len(clips) // CLIPS_PER_DRIVE)
    _write_meta(folder, meta, latents)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.train.cache_latents", description=__doc__.split("\n\n")[0])
    parser.add_argument("--vae", default="checkpoints/vae_cpu", help="VAE bundle folder")
    parser.add_argument("--out", required=True, help="cache folder")
    parser.add_argument("--drives", type=int, default=2000, help="procedural drives (2 clips each)")
    parser.add_argument("--first-drive", type=int, default=0,
                        help="index of the first procedural drive (past an earlier cache's: drives it never saw)")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)

    def body() -> int:
        if args.drives < 1:
            raise InputError(f"--drives must be at least 1, got {args.drives}")
        if args.first_drive < 0:
            raise InputError(f"--first-drive must be 0 or more, got {args.first_drive}")
        folder = build_cache(args.vae, args.out, drives=args.drives, resume=args.resume, first_drive=args.first_drive)
        print(f"cache: {folder}")
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
