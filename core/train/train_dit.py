"""Train the HexPlane DiT on a latent cache: `python -m core.train.train_dit --cache runs/latents --out runs/dit`.

One conditional model serves every condition: each one (command, trajectory, layout, earlier clip) is
dropped independently with probability `condition_dropout` per sample (the vehicle occupancy, which a
person rarely gives, with `vehicles_dropout`), and all of them together with `joint_dropout`, so the
model learns every combination a person can ask for, and the unconditional case that classifier-free
guidance needs. (Independent drops alone train "everything absent" almost never: the guidance's
unconditional branch was then an untrained input.) Latents are normalised per channel with the cache's
statistics (stored in the model's config). ε-prediction MSE on the non-padding cells of the rollout
(optionally weighted: `--min-snr GAMMA` per timestep, `--vehicle-weight W` on the rollout cells that
see a vehicle of the clip, where generated cars break up), clips of some commands seen more often than
others (`--command-weights left=2.5`: the left turns 2.5 times per pass over the cache, on average),
AdamW, EMA of the weights (the shipped weights), reduced precision on CUDA (checked against float32
first; `core.train.common.autocast_dtype` says why not on the CPU), resumable training state, DDP under
torchrun like the VAE.

Besides the full training state, every save writes `compact.safetensors`: the live and EMA weights in
float16 with the step, small enough to keep in the repository between sessions. `--resume-compact
FILE` continues from it with a fresh optimiser, whose learning rate warms up again over `--warmup`
steps, on any cache made with the same VAE (the model keeps the latent normalisation it was trained
with), and `python -m core.train.ship FILE DIR --kind hexplane-dit` ships its EMA weights.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from core.checkpoint import save_bundle
from core.config import DiTConfig, config_from_dict, config_to_dict, dit_preset
from core.diffusion import linear_schedule, masked_mse, min_snr_weights, training_targets
from core.models.dit import DiTConditions, HexPlaneDiT
from core.models.embedders import rollout_footprint
from core.models.hexplane import padding_mask
from core.train.cache_latents import LatentCache, open_cache
from core.train.common import (
    AMP_HELP, checked_autocast, init_distributed, learning_rate, parse_overrides, pick_device, precision_name, save_state_file,
)
from core.cli import run_cli
from core.types import Command, InputError


@dataclass(frozen=True)
class DiTSettings:
    out: Path
    steps: int
    batch: int
    lr: float
    warmup: int
    ema: float
    save_every: int
    amp: str
    stop_after: int | None
    seed: int
    min_snr: float | None = None  # min-SNR-γ loss weighting; None: every timestep alike
    vehicle_weight: float = 1.0  # loss weight of the rollout cells that see a vehicle
    command_weights: tuple[tuple[Command, float], ...] = ()  # clips of these commands this many times per pass
    input_perturbation: float = 0.0  # DDPM-IP's γ: x_t made with ε + γ·ξ, the target ε (0: off)


def clip_order(commands: np.ndarray, weights: tuple[tuple[Command, float], ...], seed: int) -> np.ndarray:
    """One pass over the cache in a shuffled order, each clip as often as its command's weight (1 unless
    given): ⌊w⌋ times, and once more for a share w − ⌊w⌋ of them, picked by `seed` (the same ones every
    pass). Without weights, the order of earlier runs."""
    per_clip = np.ones(len(commands))
    for command, weight in weights:
        per_clip[commands == int(command)] = weight
    extra = np.random.default_rng([seed, 1]).random(len(commands)) < per_clip % 1
    clips = np.repeat(np.arange(len(commands)), np.floor(per_clip).astype(np.int64) + extra)
    if not len(clips):
        raise InputError(f"--command-weights {describe_weights(weights)} leave none of the cache's "
                         f"{len(commands)} clips")
    return np.random.default_rng(seed).permutation(clips)


def describe_weights(weights: tuple[tuple[Command, float], ...]) -> str:
    """((LEFT, 2.5),) → 'left=2.5', as given on the command line."""
    return " ".join(f"{command.name.lower()}={weight:g}" for command, weight in weights)


MAX_COMMAND_WEIGHT = 100.0
"""More would make one pass over the cache mostly copies of the same clips."""


def parse_command_weights(items: list[str]) -> tuple[tuple[Command, float], ...]:
    """['left=2.5', 'right=2'] → ((LEFT, 2.5), (RIGHT, 2.0)); a clear error for anything else."""
    weights = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            weight = float(value)
        except ValueError:
            raise InputError(f"--command-weights expects command=weight, e.g. left=2.5, got {item!r}") from None
        if not 0 < weight <= MAX_COMMAND_WEIGHT:
            raise InputError(f"--command-weights: the weight of {name!r} must be in (0, {MAX_COMMAND_WEIGHT:g}], "
                             f"got {value}")
        try:
            command = Command.parse(name)
        except InputError as error:
            raise InputError(f"--command-weights: {error}") from None
        if command in weights:
            raise InputError(f"--command-weights: {command.name.lower()} is given twice")
        weights[command] = weight
    return tuple(weights.items())


def config_for_cache(cache: LatentCache, preset: str, overrides: dict, *, trained: DiTConfig | None = None) -> DiTConfig:
    """The preset, fitted to the cache's latent shape and statistics. A model already `trained` keeps
    its own latent normalisation: a cache of other drives from the same VAE has slightly other statistics,
    and renormalising would shift every input the model learned on."""
    meta = cache.meta
    fitted = {
        "latent_channels": meta["latent_shape"][0], "latent_sizes": tuple(meta["latent_sizes"]),
        "frames": meta["frames"], "extent": meta["extent"], "latent_mean": meta["channel_mean"],
        "latent_std": [max(s, 1e-3) for s in meta["channel_std"]],  # a dead channel must not blow up
    }
    if trained is not None:
        fitted.update(latent_mean=trained.latent_mean, latent_std=trained.latent_std)
    return dit_preset(preset, **{**fitted, **overrides})


# Config switches that add a zero-initialised module of the same name to the DiT: a compact state trained
# without one continues with it (the model starts out computing exactly what it did).
GROWABLE = ("condition_input", "trajectory_map", "output_refine")


# Config fields that only steer training (which conditions a batch shows): a run may change them.
TRAINING_ONLY = ("condition_dropout", "vehicles_dropout", "joint_dropout")


def same_setup(trained: DiTConfig, current: DiTConfig) -> bool:
    """The same model on the same latents: equal configs but for the training-only fields, the latent
    statistics up to float rounding (a cache rebuilt from the same VAE and seeds sums them in another order)."""
    statistics = ("latent_mean", "latent_std")
    close = all(np.allclose(getattr(trained, name), getattr(current, name), rtol=1e-5, atol=1e-6) for name in statistics)
    exact = {name: getattr(current, name) for name in (*statistics, *TRAINING_ONLY)}
    return close and dataclasses.replace(trained, **exact) == current


def condition_batch(cache: LatentCache, indices: np.ndarray, config: DiTConfig, generator: torch.Generator,
                    normalise) -> DiTConditions:
    """Conditions of the cached clips at `indices`, each dropped with probability condition_dropout
    (vehicles: vehicles_dropout), all together with probability joint_dropout."""
    batch = len(indices)
    any_kept = torch.rand(batch, generator=generator) >= config.joint_dropout

    def keep(dropout: float = config.condition_dropout) -> torch.Tensor:
        return (torch.rand(batch, generator=generator) >= dropout) & any_kept

    earlier_index = cache.earlier[indices]
    has_earlier = torch.from_numpy(earlier_index >= 0)
    earlier = normalise(torch.from_numpy(np.asarray(cache.latents[np.maximum(earlier_index, 0)], dtype=np.float32)))
    layout = F.one_hot(torch.from_numpy(cache.layouts[indices].astype(np.int64)), config.num_classes)
    return DiTConditions(
        command=torch.from_numpy(cache.commands[indices]), command_present=keep(),
        trajectory=torch.from_numpy(cache.trajectories[indices]), trajectory_present=keep(),
        layout=layout.permute(0, 3, 1, 2).float(), layout_present=keep(),
        vehicles=torch.from_numpy(cache.vehicles[indices]).float(), vehicles_present=keep(config.vehicles_dropout),
        earlier=earlier, earlier_present=keep() & has_earlier,
    )


class DiTTrainer:
    def __init__(self, config: DiTConfig, cache: LatentCache, settings: DiTSettings, *, rank: int, world: int) -> None:
        self.config, self.cache, self.settings, self.rank, self.world = config, cache, settings, rank, world
        self.device = pick_device()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            self.model = HexPlaneDiT(config).to(self.device)
        self.ema = copy.deepcopy(self.model).eval().requires_grad_(False)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=settings.lr, weight_decay=0.0)
        self.schedule = linear_schedule()
        self.keep_mask = ~padding_mask(config.latent_sizes).to(self.device)
        self.mean = torch.tensor(config.latent_mean).view(1, -1, 1, 1)
        self.std = torch.tensor(config.latent_std).view(1, -1, 1, 1)
        self.generator = torch.Generator().manual_seed(settings.seed * 1000 + 7 + rank)
        self.order = clip_order(cache.commands, settings.command_weights, settings.seed)
        self.step, self.elapsed, self.rewarm_from = 0, 0.0, None
        self.amp: torch.dtype | None = None  # set by choose_precision once the weights are in place
        self.wrapped = self.model
        if world > 1:
            self.wrapped = torch.nn.parallel.DistributedDataParallel(self.model)

    def choose_precision(self) -> None:
        """After any resume, so the check sees the trained weights (a zero-initialised layer hides a fault)."""
        self.amp = checked_autocast(self.settings.amp, self.device, self.model, self.precision_probe)

    def precision_probe(self) -> torch.Tensor:
        """One forward pass through every path (all conditions present), for `checked_autocast`."""
        picked = self.indices()
        generator = torch.Generator().manual_seed(0)  # leaves the training stream alone
        conditions = condition_batch(self.cache, picked, self.config, generator, self.normalise)
        everything = dataclasses.replace(conditions, **{field.name: None for field in dataclasses.fields(conditions)
                                                        if field.name.endswith("_present")})
        x0 = self.normalise(torch.from_numpy(np.asarray(self.cache.latents[picked], dtype=np.float32)))
        t, _, x_t = training_targets(self.schedule, x0, generator)
        return self.model(x_t.to(self.device), t.to(self.device), everything)

    def normalise(self, latents: torch.Tensor) -> torch.Tensor:
        return (latents - self.mean) / self.std

    def indices(self) -> np.ndarray:
        first = (self.step * self.world + self.rank) * self.settings.batch
        return self.order[(first + np.arange(self.settings.batch)) % len(self.order)]

    def train_step(self) -> float:
        picked = self.indices()
        x0 = self.normalise(torch.from_numpy(np.asarray(self.cache.latents[picked], dtype=np.float32)))
        conditions = condition_batch(self.cache, picked, self.config, self.generator, self.normalise)
        t, noise, x_t = training_targets(self.schedule, x0, self.generator,
                                         input_perturbation=self.settings.input_perturbation)
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.step, self.settings) * self.rewarm()
        with torch.autocast(self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None):
            prediction = self.wrapped(x_t.to(self.device), t.to(self.device), conditions)
        loss = masked_mse(prediction, noise.to(self.device), self.keep_mask, self.loss_weights(picked, t))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        with torch.no_grad():
            for ema, live in zip(self.ema.parameters(), self.model.parameters()):
                ema.lerp_(live, 1.0 - self.settings.ema)
        self.step += 1
        return float(loss.detach())

    def loss_weights(self, picked: np.ndarray, t: torch.Tensor) -> torch.Tensor | None:
        """Per-sample (min-SNR) times per-cell (vehicles) weights of the batch's errors, None if neither."""
        weights = None
        if self.settings.min_snr is not None:
            weights = min_snr_weights(self.schedule, t, self.settings.min_snr).view(-1, 1, 1, 1).to(self.device)
        if self.settings.vehicle_weight != 1.0:
            seen = rollout_footprint(torch.from_numpy(self.cache.vehicles[picked]), self.config.latent_sizes)
            cells = 1.0 + (self.settings.vehicle_weight - 1.0) * seen.float().to(self.device)
            weights = cells if weights is None else weights * cells
        return weights

    def rewarm(self) -> float:
        """After a compact resume, the fresh optimiser's learning rate ramps up again."""
        if self.rewarm_from is None:
            return 1.0
        return min(1.0, (self.step - self.rewarm_from + 1) / max(self.settings.warmup, 1))

    @property
    def state_path(self) -> Path:
        return self.settings.out / "train_state.pt"

    def save(self) -> None:
        if self.rank != 0:
            return
        save_state_file({
            "model": self.model.state_dict(), "ema": self.ema.state_dict(), "optimizer": self.optimizer.state_dict(),
            "step": self.step, "elapsed": self.elapsed, "generator": self.generator.get_state(),
            "config": json.dumps(config_to_dict(self.config)),
            "command_weights": describe_weights(self.settings.command_weights),
        }, self.state_path)
        notes = {"steps": self.step, "train_minutes": round(self.elapsed / 60, 1), "cache": str(self.cache.folder),
                 "vae_hash": self.cache.meta["vae_hash"], "precision": precision_name(self.amp),
                 "command": " ".join(["python -m core.train.train_dit", *sys.argv[1:]]),
                 **({"command_weights": describe_weights(self.settings.command_weights)}
                    if self.settings.command_weights else {})}
        save_bundle(self.ema, self.settings.out / "ema", kind="hexplane-dit", notes=notes)
        self.save_compact(self.settings.out / "compact.safetensors")

    def save_compact(self, path: Path) -> None:
        from safetensors.torch import save_file

        weights = {f"{prefix}.{name}": tensor.detach().to("cpu", torch.float16).contiguous()
                   for prefix, model in (("model", self.model), ("ema", self.ema))
                   for name, tensor in model.state_dict().items()}
        meta = {"step": str(self.step), "elapsed": str(self.elapsed), "config": json.dumps(config_to_dict(self.config))}
        temp = path.with_suffix(".tmp")
        save_file(weights, str(temp), metadata=meta)
        os.replace(temp, path)

    def resume_compact(self, path: Path) -> None:
        trained, meta = read_compact(path)
        grown = [name for name in GROWABLE if not getattr(trained, name) and getattr(self.config, name)]
        if not same_setup(dataclasses.replace(trained, **{name: True for name in grown}), self.config):
            raise InputError(f"{path}: was trained with a different config or cache")
        for prefix, model in (("model", self.model), ("ema", self.ema)):
            missing, _ = model.load_state_dict(compact_weights(path, prefix), strict=False)
            if any(name.split(".")[0] not in grown for name in missing):
                raise InputError(f"{path}: lacks weights {sorted(missing)}")
        if grown:  # zero-initialised paths: the model computes what it did, and learns to use them
            print(f"added to the trained model: {', '.join(grown)}", file=sys.stderr)
        self.step, self.elapsed, self.rewarm_from = int(meta["step"]), float(meta["elapsed"]), int(meta["step"])

    def resume(self) -> None:
        if not self.state_path.is_file():
            raise InputError(f"{self.state_path}: nothing to resume")
        state = torch.load(self.state_path, map_location=self.device, weights_only=True)
        if not same_setup(config_from_dict(DiTConfig, json.loads(state["config"])), self.config):
            raise InputError(f"{self.state_path}: was trained with a different config or cache")
        trained, asked = state.get("command_weights"), describe_weights(self.settings.command_weights)
        if trained is not None and trained != asked:  # another order of the clips: not the run it continues
            raise InputError(f"{self.state_path}: was trained with --command-weights {trained or '(none)'}, "
                             f"not {asked or '(none)'}")
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.elapsed = int(state["step"]), float(state["elapsed"])
        self.generator.set_state(state["generator"])


def read_compact(path: Path) -> tuple[DiTConfig, dict[str, str]]:
    """The config a compact state was trained with, and its metadata (step, elapsed seconds)."""
    from safetensors import SafetensorError, safe_open

    if not Path(path).is_file():
        raise InputError(f"{path}: no compact training state there")
    try:
        with safe_open(str(path), framework="pt") as stored:
            meta = stored.metadata() or {}
    except SafetensorError as error:
        raise InputError(f"{path}: not a safetensors file ({error})") from None
    if "config" not in meta or "step" not in meta:
        raise InputError(f"{path}: not a compact DiT training state (no config or step in its metadata)")
    return config_from_dict(DiTConfig, json.loads(meta["config"])), meta


def compact_weights(path: Path, prefix: str) -> dict[str, torch.Tensor]:
    """The float32 weights stored under `prefix` ("model": live, "ema": averaged) in a compact state."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as stored:
        return {name.removeprefix(f"{prefix}."): stored.get_tensor(name).float()
                for name in stored.keys() if name.startswith(f"{prefix}.")}


def compact_model(path: Path, prefix: str = "ema") -> tuple[HexPlaneDiT, dict]:
    """The DiT of a compact state with its `prefix` weights loaded strictly (eval mode), and notes for a bundle."""
    config, meta = read_compact(path)
    model = HexPlaneDiT(config)
    try:
        model.load_state_dict(compact_weights(path, prefix))
    except RuntimeError as error:
        raise InputError(f"{path}: its {prefix} weights do not fit its config ({str(error).splitlines()[0]})") from None
    notes = {"steps": int(meta["step"]), "train_minutes": round(float(meta["elapsed"]) / 60, 1), "weights": prefix}
    return model.eval(), notes


def run(trainer: DiTTrainer) -> None:
    trainer.choose_precision()
    settings = trainer.settings
    final = settings.steps if settings.stop_after is None else min(settings.steps, trainer.step + settings.stop_after)
    bar = tqdm(total=settings.steps, initial=trainer.step, disable=trainer.rank != 0, desc="dit", dynamic_ncols=True)
    window: list[float] = []  # the loss is noisy per batch (random t): log its mean over 50 steps
    while trainer.step < final:
        started = time.monotonic()
        window.append(trainer.train_step())
        trainer.elapsed += time.monotonic() - started
        bar.update(1)
        bar.set_postfix(loss=f"{window[-1]:.4f}")
        if trainer.rank == 0 and trainer.step % 50 == 0:
            record = {"step": trainer.step, "seconds": round(trainer.elapsed, 1), "loss": float(np.mean(window))}
            with open(settings.out / "metrics.jsonl", "a") as stream:
                stream.write(json.dumps(record) + "\n")
            window.clear()
        if trainer.step % settings.save_every == 0:
            trainer.save()
    trainer.save()
    bar.close()


def continued_config(args: argparse.Namespace) -> DiTConfig | None:
    """The config of the model this run continues (from its training state or a compact state), if any."""
    state = Path(args.out) / "train_state.pt"
    if args.resume and state.is_file():
        return config_from_dict(DiTConfig, json.loads(torch.load(state, weights_only=True)["config"]))
    return read_compact(Path(args.resume_compact))[0] if args.resume_compact and not args.resume else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.train.train_dit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", required=True, help="latent cache folder (core.train.cache_latents)")
    parser.add_argument("--out", required=True, help="run folder")
    parser.add_argument("--preset", default="cpu", help="DiT preset: cpu, DiT-DC/2 or tiny")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override DiT config fields")
    parser.add_argument("--steps", type=int, default=50000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--ema", type=float, default=0.999)
    parser.add_argument("--save-every", type=int, default=250, help="steps between training-state saves")
    parser.add_argument("--amp", choices=["auto", "on", "off"], default="auto", help=AMP_HELP)
    parser.add_argument("--stop-after", type=int, default=None, help="stop after this many steps this run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-snr", type=float, default=None, metavar="GAMMA",
                        help="weight each timestep's loss by min(SNR, GAMMA) / SNR (min-SNR-γ; e.g. 1 or 5)")
    parser.add_argument("--vehicle-weight", type=float, default=1.0, metavar="W",
                        help="loss weight of the rollout cells that see a vehicle of the clip (1: no extra weight)")
    parser.add_argument("--command-weights", nargs="+", default=[], metavar="COMMAND=W",
                        help="see the clips of a command W times per pass over the cache (1 unless given), "
                             "e.g. left=2.5 right=2")
    parser.add_argument("--input-perturbation", type=float, default=0.0, metavar="GAMMA",
                        help="make x_t with noise + GAMMA × a second draw, the target the first (DDPM-IP, e.g. 0.1; "
                             "0: off)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--resume-compact", metavar="FILE", help="continue from a compact.safetensors (fresh optimiser)")
    parser.add_argument("--forget-token-conditions", action="store_true",
                        help="with --resume-compact: keep the model as it is with layout, vehicles and earlier clip "
                             "absent, and learn those conditions afresh")
    args = parser.parse_args(argv)
    world, rank = int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0))

    def body() -> int:
        cache = open_cache(args.cache)
        config = config_for_cache(cache, args.preset, parse_overrides(args.set), trained=continued_config(args))
        if args.min_snr is not None and not args.min_snr > 0:
            raise InputError(f"--min-snr must be > 0, got {args.min_snr}")
        if not args.vehicle_weight > 0:
            raise InputError(f"--vehicle-weight must be > 0, got {args.vehicle_weight}")
        if not args.input_perturbation >= 0:
            raise InputError(f"--input-perturbation must be >= 0, got {args.input_perturbation}")
        settings = DiTSettings(Path(args.out), args.steps, args.batch, args.lr, args.warmup, args.ema,
                               args.save_every, args.amp, args.stop_after, args.seed, args.min_snr, args.vehicle_weight,
                               parse_command_weights(args.command_weights), args.input_perturbation)
        settings.out.mkdir(parents=True, exist_ok=True)
        init_distributed(world)
        trainer = DiTTrainer(config, cache, settings, rank=rank, world=world)
        if args.resume:
            trainer.resume()
        elif args.resume_compact:
            trainer.resume_compact(Path(args.resume_compact))
            if args.forget_token_conditions:
                for model in (trainer.model, trainer.ema):
                    model.forget_token_conditions()
        elif args.forget_token_conditions:
            raise InputError("--forget-token-conditions needs --resume-compact")
        run(trainer)
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
