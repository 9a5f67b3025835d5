"""Train the HexPlane VAE: `python -m core.train.train_vae --out runs/vae [--resume] ...`.

Streams procedural clips (or reads CarlaSC / Occ3D clips from a folder), optimises CE + Lovász + KL
with AdamW under a warm-up + cosine schedule, evaluates held-out mIoU periodically, and keeps a
training state (model, optimiser, step, RNG) in `OUT/train_state.pt` so `--resume` continues exactly.
Runs as one process or under `torchrun --nproc-per-node N` (DistributedDataParallel, gloo on the CPU,
nccl on GPUs). Uses CUDA when present, and reduced precision on CUDA (checked against float32 first).
The best and the latest models are written as bundles `OUT/best` and `OUT/last` (core.checkpoint).

`--init BUNDLE` starts from a trained VAE (its config, not `--preset`); with `--decoder-only` only the
decoder trains, on the frozen encoder's μ, so the latent space stays the one a DiT was trained on;
`--latent-noise S` adds noise of a level up to S to each training latent (`core.models.vae.with_latent_noise`),
teaching the decoder to forgive the imprecise latents a DiT generates (at S = 1 it erased cars as well:
checkpoints README, step 19).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from core.checkpoint import load_bundle, save_bundle
from core.config import VAEConfig, vae_preset, config_to_dict, config_from_dict
from core.eval.recon import evaluate_reconstruction
from core.models.losses import class_weights, vae_loss
from core.models.vae import HexPlaneVAE
from core.train.clips import ClipSource, make_clip_source
from core.train.common import (
    AMP_HELP, checked_autocast, init_distributed, learning_rate, parse_overrides, pick_device, precision_name, save_state_file,
)
from core.cli import run_cli
from core.types import InputError


@dataclass(frozen=True)
class TrainSettings:
    out: Path
    steps: int
    batch: int
    lr: float
    warmup: int
    eval_every: int
    eval_clips: int
    save_every: int
    amp: str
    time_limit_minutes: float | None
    stop_after: int | None = None
    seed: int = 0
    latent_noise: float = 0.0  # levels up to this, in units of each latent channel's spread
    decoder_only: bool = False  # the encoder frozen: only the decoder trains, on μ


class Trainer:
    def __init__(self, config: VAEConfig, source: ClipSource, settings: TrainSettings, *, rank: int, world: int,
                 init: HexPlaneVAE | None = None) -> None:
        self.config, self.source, self.settings, self.rank, self.world = config, source, settings, rank, world
        self.device = pick_device()
        with torch.random.fork_rng(devices=[]):  # a seeded init that leaves the caller's RNG alone
            torch.manual_seed(settings.seed)
            self.model = HexPlaneVAE(config).to(self.device)
        if init is not None:
            self.model.load_state_dict(init.state_dict())
        trained = self.model.parameters()
        if settings.decoder_only:
            self.model.requires_grad_(False)
            self.model.decoder.requires_grad_(True)
            trained = self.model.decoder.parameters()
        self.optimizer = torch.optim.AdamW(trained, lr=settings.lr, weight_decay=1e-4)
        self.step, self.best_miou, self.elapsed = 0, -1.0, 0.0
        self.generator = torch.Generator().manual_seed(settings.seed * 1000 + 1234 + rank)
        self.weights = class_weights(source.class_frequencies()).to(self.device)
        self.amp: torch.dtype | None = None  # set by choose_precision once the weights are in place
        self.wrapped = self.model
        if world > 1:
            self.wrapped = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def choose_precision(self) -> None:
        """After any resume, so the check sees the trained weights (a zero-initialised layer hides a fault)."""
        self.amp = checked_autocast(self.settings.amp, self.device, self.model, self.precision_probe)

    def precision_probe(self) -> torch.Tensor:
        """One forward pass on a training batch, for `checked_autocast`."""
        labels, _ = self.source.batch(0, self.settings.batch, rank=self.rank, world=self.world)
        return self.model(labels.to(self.device), generator=torch.Generator().manual_seed(0))[0]

    @property
    def state_path(self) -> Path:
        return self.settings.out / "train_state.pt"

    def save_state(self) -> None:
        if self.rank != 0:
            return
        state = {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "step": self.step,
            "best_miou": self.best_miou, "elapsed": self.elapsed, "generator": self.generator.get_state(),
            "config": json.dumps(config_to_dict(self.config)),
            "latent_noise": self.settings.latent_noise, "decoder_only": self.settings.decoder_only,
        }
        save_state_file(state, self.state_path)
        save_bundle(self.model, self.settings.out / "last", kind="hexplane-vae", notes=self.notes())

    def resume(self) -> None:
        if not self.state_path.is_file():
            raise InputError(f"{self.state_path}: nothing to resume")
        state = torch.load(self.state_path, map_location=self.device, weights_only=True)
        stored = config_from_dict(VAEConfig, json.loads(state["config"]))
        if stored != self.config:
            raise InputError(f"{self.state_path}: was trained with a different config; drop --resume or match it")
        for option, value in (("latent_noise", self.settings.latent_noise), ("decoder_only", self.settings.decoder_only)):
            if option in state and state[option] != value:  # states saved before the option are taken as they are
                raise InputError(f"{self.state_path}: was trained with --{option.replace('_', '-')} {state[option]}, "
                                 f"not {value}; resume with the same")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.best_miou, self.elapsed = int(state["step"]), float(state["best_miou"]), float(state["elapsed"])
        self.generator.set_state(state["generator"])

    def notes(self) -> dict:
        return {"steps": self.step, "train_minutes": round(self.elapsed / 60, 1), "best_miou": self.best_miou,
                "precision": precision_name(self.amp), "command": " ".join(["python -m core.train.train_vae", *sys.argv[1:]]),
                "latent_noise": self.settings.latent_noise, "decoder_only": self.settings.decoder_only}

    def train_step(self) -> dict:
        labels, unobserved = self.source.batch(self.step, self.settings.batch, rank=self.rank, world=self.world)
        labels, unobserved = labels.to(self.device), None if unobserved is None else unobserved.to(self.device)
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.step, self.settings)
        with torch.autocast(self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None):
            logits, mean, log_var = self.wrapped(labels, generator=self.generator, sample=not self.settings.decoder_only,
                                                 latent_noise=self.settings.latent_noise)
        terms = vae_loss(logits, labels, mean, log_var, weights=self.weights, unobserved=unobserved, generator=self.generator)
        self.optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.step += 1
        return {"loss": float(terms.total.detach()), "ce": terms.cross_entropy, "lovasz": terms.lovasz, "kl": terms.kl}

    def evaluate(self) -> dict:
        report = evaluate_reconstruction(self.model, self.source.eval_clips(self.settings.eval_clips), device=self.device)
        return {"miou": report.miou, "binary_iou": report.binary_iou, "per_class": report.per_class}

    def log(self, record: dict) -> None:
        if self.rank == 0:
            with open(self.settings.out / "metrics.jsonl", "a") as stream:
                stream.write(json.dumps(record) + "\n")


def run(trainer: Trainer, settings: TrainSettings) -> None:
    trainer.choose_precision()
    deadline = time.monotonic() + 60 * settings.time_limit_minutes if settings.time_limit_minutes else None
    final = settings.steps if settings.stop_after is None else min(settings.steps, trainer.step + settings.stop_after)
    bar = tqdm(total=settings.steps, initial=trainer.step, disable=trainer.rank != 0, desc="vae", dynamic_ncols=True)
    last_save = time.monotonic()
    while trainer.step < final and (deadline is None or time.monotonic() < deadline):
        started = time.monotonic()
        losses = trainer.train_step()
        trainer.elapsed += time.monotonic() - started
        bar.update(1)
        bar.set_postfix(loss=f"{losses['loss']:.3f}", lr=f"{learning_rate(trainer.step, settings):.1e}")
        if trainer.step % 50 == 0:
            trainer.log({"step": trainer.step, "seconds": round(trainer.elapsed, 1), **losses})
        if trainer.step % settings.eval_every == 0 and trainer.rank == 0:
            evaluate_and_keep_best(trainer)
        if time.monotonic() - last_save > 60 * settings.save_every or trainer.step % (settings.eval_every) == 0:
            trainer.save_state()
            last_save = time.monotonic()
    trainer.save_state()
    bar.close()


def evaluate_and_keep_best(trainer: Trainer) -> None:
    result = trainer.evaluate()
    trainer.log({"step": trainer.step, "seconds": round(trainer.elapsed, 1), "eval": result})
    tqdm.write(f"step {trainer.step}: held-out mIoU {100 * result['miou']:.2f}, binary IoU {100 * result['binary_iou']:.2f}")
    if result["miou"] > trainer.best_miou:
        trainer.best_miou = result["miou"]
        save_bundle(trainer.model, trainer.settings.out / "best", kind="hexplane-vae", notes={**trainer.notes(), "eval": result})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.train.train_vae", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="run folder (training state, metrics, bundles)")
    parser.add_argument("--preset", default="cpu", help="VAE preset: cpu, carlasc or tiny")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override VAE config fields")
    parser.add_argument("--data", default="procedural", help="'procedural' or a CarlaSC / Occ3D folder")
    parser.add_argument("--convention", default="anchored", choices=["anchored", "ego"])
    parser.add_argument("--density", type=float, default=1.0, help="procedural traffic density (more small objects)")
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--eval-clips", type=int, default=8)
    parser.add_argument("--save-every", type=float, default=5.0, help="minutes between training-state saves")
    parser.add_argument("--amp", choices=["auto", "on", "off"], default="auto", help=AMP_HELP)
    parser.add_argument("--time-limit", type=float, default=None, help="stop after this many minutes")
    parser.add_argument("--stop-after", type=int, default=None, help="stop after this many steps (the schedule still spans --steps)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights and of the sampling noise")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--init", default=None, metavar="BUNDLE", help="start from this VAE bundle (its config)")
    parser.add_argument("--decoder-only", action="store_true", help="train the decoder alone on the frozen encoder's μ")
    parser.add_argument("--latent-noise", type=float, default=0.0, metavar="S",
                        help="noise levels up to S (× each latent channel's spread) added to the training latents")
    args = parser.parse_args(argv)
    world, rank = int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0))

    def body() -> int:
        if not (0 <= args.latent_noise <= 10):
            raise InputError(f"--latent-noise must be between 0 and 10, got {args.latent_noise}")
        if args.decoder_only and args.init is None:
            raise InputError("--decoder-only trains the decoder of a trained encoder: give it with --init BUNDLE")
        init = None if args.init is None else load_bundle(args.init, kind="hexplane-vae")
        if init is not None and args.set:
            raise InputError("--init takes the bundle's config: drop --set")
        config = init.config if init is not None else vae_preset(args.preset, **parse_overrides(args.set))
        source = make_clip_source(args.data, config, convention=args.convention, density=args.density)
        settings = TrainSettings(Path(args.out), args.steps, args.batch, args.lr, args.warmup, args.eval_every,
                                 args.eval_clips, args.save_every, args.amp, args.time_limit, args.stop_after, args.seed,
                                 args.latent_noise, args.decoder_only)
        settings.out.mkdir(parents=True, exist_ok=True)
        init_distributed(world)
        trainer = Trainer(config, source, settings, rank=rank, world=world, init=init)
        if args.resume:
            trainer.resume()
        run(trainer, settings)
        if world > 1:
            dist.destroy_process_group()
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
