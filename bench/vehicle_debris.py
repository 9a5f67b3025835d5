"""Where do the generated scenes' car fragments come from? Vehicle debris side by side in one run.

    python bench/vehicle_debris.py [--checkpoints DIR] [--requests 16] [--noise 0.1 0.2 0.3]
                                   [--one-step 50 200 400 600] [--from-noised 200 400 600]
                                   [--planes-from 600] [--samplers dpm++:25:4 dpm++:25:1] [--keep DIR]

Vehicle debris is the share of vehicle blobs (seen from above, all frames) smaller than a car
(`core.eval.temporal.vehicle_debris`). Printed for the requests' real scenes; for the VAE's
reconstructions of them; for the same latents with Gaussian noise of each `--noise` level added (in the
DiT's normalised units: noise × the latent's per-channel std) before decoding, which shows how much an
imprecise latent alone breaks cars up; for the DiT's one-step estimates of the latents from the same
latents noised to each `--one-step` timestep (how well it restores cars whose layout the noise has not
yet hidden); for the DiT's samples from the same latents noised to each `--from-noised` timestep (the
first sampler setting's steps from there down: what its own steps make of cars it was handed); for
the real latent with one group of planes (xy; xz + yz; tx + ty; tz) taken from that sample from the
`--planes-from` timestep (which of the DiT's planes break cars up), with each plane's rms error; and
for the DiT's scenes for the same requests (command, trajectory and layout) at each sampler setting.
Also the share of voxels that are vehicle, the median blob size in cells, and the debris taken apart:
per frame the car-sized blobs (`cars`; `ragged`: the share of them less than 2 cells wide on average,
which no real car is), the smaller blobs away from the grid's edge (`specks`, which
`SamplerSettings.remove_specks` removes) and those the edge cuts (`cut`: in real scenes all the
debris), the share of the vehicle voxels that lie in specks, and how the cars move: track breaks per
track and mean acceleration (`core.eval.temporal.vehicle_tracks`; real scenes 0.05 and about 6 m/s²).
A `--samplers` entry may end in `:specks` or `:boxes` for the vehicle clean-ups (`core.postprocess`),
e.g. `--samplers dpm++:25 dpm++:25:4:specks dpm++:25:4:boxes`. `--keep DIR` keeps the generated scenes
(`core.eval.kept`; the clean-ups decode the same kept samples), shared with `bench/sampler_settings.py
--keep DIR`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.sampler_settings import sampler_spec  # noqa: E402
from core.api import DEFAULT_CHECKPOINTS, SceneGenerator  # noqa: E402
from core.checkpoint import load_bundle  # noqa: E402
from core.conditions.tensors import to_dit_conditions  # noqa: E402
from core.diffusion import LOG_SNR_SAMPLERS, sample  # noqa: E402
from core.diffusion.schedule import predict_x0, q_sample, spaced_timesteps  # noqa: E402
from core.eval import suite  # noqa: E402
from core.eval.kept import KeptScenes  # noqa: E402
from core.models.hexplane import PLANES, HexPlane, rollout, unroll  # noqa: E402
from core.postprocess import MIN_CAR_CELLS, VEHICLE, vehicle_blobs, vehicle_specks  # noqa: E402
from core.types import OccupancySequence  # noqa: E402


HEADER = (f"{'scenes':<62}  {'debris %':>8}  {'vehicle %':>9}  {'median cells':>12}  {'cars':>5}  {'ragged %':>8}  "
          f"{'specks':>6}  {'cut':>5}  {'in specks %':>11}  {'breaks':>6}  {'accel':>5}")


def long_sides(blob: np.ndarray, count: int) -> np.ndarray:
    """The longer side of each blob's bounding box in cells (index 0 included, as 0)."""
    xs, ys = np.nonzero(blob)
    index = blob[xs, ys]
    sides = []
    for coordinate in (xs, ys):
        low, high = np.full(count + 1, blob.shape[0] + blob.shape[1]), np.full(count + 1, -1)
        np.minimum.at(low, index, coordinate)
        np.maximum.at(high, index, coordinate)
        sides.append(np.maximum(high - low + 1, 0))
    return np.maximum(*sides)


def row(name: str, scenes: list[np.ndarray], grid) -> str:
    """Debris, vehicle share and median blob size; per frame the car-sized blobs (and the share of them
    less than 2 cells wide on average, cells over the longer side: ragged, where a car is 2–3), the specks
    (smaller, away from the edge) and the small blobs the edge cuts; the share of vehicle voxels in specks;
    and the vehicle tracks' breaks per track and mean acceleration (m/s², `core.eval.suite.temporal_summary`)."""
    temporal = suite.temporal_summary([OccupancySequence(labels, grid) for labels in scenes])
    found = [vehicle_blobs(frame) for labels in scenes for frame in labels]
    sizes = np.concatenate([blob_sizes[1:] for _, blob_sizes, _ in found])
    cut = np.concatenate([blob_cut[1:] for _, _, blob_cut in found])
    long = np.concatenate([long_sides(blob, len(blob_sizes) - 1)[1:] for blob, blob_sizes, _ in found])
    ragged = sizes < 2 * long
    car, frames = sizes >= MIN_CAR_CELLS, len(found)
    in_specks = sum(int(vehicle_specks(labels, MIN_CAR_CELLS).sum()) for labels in scenes)
    vehicle = sum(int((labels == VEHICLE).sum()) for labels in scenes)
    share = 100 * np.mean([(labels == VEHICLE).mean() for labels in scenes])
    return (f"{name:<62}  {100 * temporal['vehicle_debris']:8.1f}  {share:9.2f}  {np.median(sizes) if len(sizes) else 0:12.0f}  "
            f"{car.sum() / frames:5.1f}  {100 * (car & ragged).sum() / max(car.sum(), 1):8.1f}  "
            f"{(~car & ~cut).sum() / frames:6.1f}  {(~car & cut).sum() / frames:5.1f}  {100 * in_specks / max(vehicle, 1):11.1f}  "
            f"{temporal['track_breaks']:6.2f}  {temporal['vehicle_acceleration']:5.1f}")


@torch.no_grad()
def noisy_reconstructions(vae, dit_config, scenes: list[np.ndarray], noise: float, seed: int = 0) -> list[np.ndarray]:
    """Each scene encoded to μ, noise × the DiT's latent std added per channel, decoded to class ids."""
    std = torch.tensor(dit_config.latent_std).view(1, -1, 1, 1)
    generator = torch.Generator().manual_seed(seed)
    decoded = []
    for labels in scenes:
        mean, _ = vae.encode(torch.from_numpy(labels.astype(np.int64))[None])
        rolled = rollout(mean)  # (1, C, X'+T'+Z', Y'+Z'+T')
        rolled = rolled + noise * std * torch.randn(rolled.shape, generator=generator)
        decoded.append(vae.decode(unroll(rolled, vae.config.latent_sizes)).argmax(1)[0].to(torch.uint8).numpy())
    return decoded


@torch.no_grad()
def one_step_estimates(service: SceneGenerator, clips, timestep: int, seed: int = 0) -> list[np.ndarray]:
    """Each clip's latent noised to `timestep`, the DiT's x0 estimate from it (its conditions given,
    no guidance), decoded to class ids."""
    pipeline, grid = service._load(), service.scene_grid()
    generator, decoded = torch.Generator().manual_seed(seed), []
    t = torch.tensor([timestep], device=pipeline.device)
    for clip in clips:
        x0 = pipeline.encode(clip.scene.labels)  # (1, C, H, W) normalised
        x_t = q_sample(pipeline.schedule, x0, t, torch.randn(x0.shape, generator=generator).to(x0.device))
        conditions = to_dit_conditions(suite.conditions_of(clip), pipeline.dit.config, grid.cells, device=pipeline.device)
        eps = pipeline.denoiser(conditions, guidance_scale=1.0)(x_t, t)
        decoded.append(pipeline.decode(predict_x0(pipeline.schedule, x_t, t, eps)))
    return decoded


PLANE_GROUPS = {"xy": ("xy",), "xz + yz": ("xz", "yz"), "tx + ty": ("tx", "ty"), "tz": ("tz",)}


@torch.no_grad()
def samples_from_noised(service: SceneGenerator, clips, timestep: int, settings, seed: int = 0) -> list[np.ndarray]:
    """Each clip's latent noised to the first of the sampler's steps at or below `timestep`, sampled from
    there down with its conditions and guidance, decoded to class ids."""
    pipeline = service._load()
    return [pipeline.decode(made) for _, made in latents_from_noised(service, clips, timestep, settings, seed)]


@torch.no_grad()
def latents_from_noised(service: SceneGenerator, clips, timestep: int, settings,
                        seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(real latent, the sample `samples_from_noised` makes from it) per clip, as normalised rollouts."""
    pipeline, grid = service._load(), service.scene_grid()
    spacing = "log_snr" if settings.sampler in LOG_SNR_SAMPLERS else "uniform"
    steps = spaced_timesteps(pipeline.schedule, settings.steps, spacing=spacing)
    steps = steps[steps <= timestep]
    pairs = []
    for index, clip in enumerate(clips):
        generator = torch.Generator().manual_seed(seed + index)
        x0 = pipeline.encode(clip.scene.labels)  # (1, C, H, W) normalised
        x_t = q_sample(pipeline.schedule, x0, steps[:1], torch.randn(x0.shape, generator=generator).to(x0.device))
        conditions = to_dit_conditions(suite.conditions_of(clip), pipeline.dit.config, grid.cells, device=pipeline.device)
        denoise_fn = pipeline.denoiser(conditions, settings.guidance_scale, settings.guidance_from)
        pairs.append((x0, sample(settings.sampler, denoise_fn, x_t, pipeline.schedule, timesteps=steps, generator=generator)))
    return pairs


@torch.no_grad()
def with_planes_of(service: SceneGenerator, pairs, names: tuple[str, ...]) -> list[np.ndarray]:
    """Each real latent with the planes `names` taken from its sample, decoded to class ids."""
    pipeline = service._load()
    sizes = pipeline.dit.config.latent_sizes
    decoded = []
    for real, made in pairs:
        kept, taken = unroll(real, sizes).planes(), unroll(made, sizes).planes()
        decoded.append(pipeline.decode(rollout(HexPlane(**{n: taken[n] if n in names else kept[n] for n in PLANES}))))
    return decoded


def plane_errors(service: SceneGenerator, pairs) -> str:
    """Root-mean-square difference per plane between the real latents and their samples (normalised units)."""
    sizes = service._load().dit.config.latent_sizes
    planes = [(unroll(real, sizes).planes(), unroll(made, sizes).planes()) for real, made in pairs]
    errors = {n: np.mean([float(((real[n] - made[n]) ** 2).mean().sqrt()) for real, made in planes]) for n in PLANES}
    return ", ".join(f"{n} {value:.2f}" for n, value in errors.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", default=str(DEFAULT_CHECKPOINTS))
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--noise", type=float, nargs="*", default=[0.1, 0.2, 0.3])
    parser.add_argument("--one-step", type=int, nargs="*", default=[50, 200, 400, 600], metavar="T")
    parser.add_argument("--from-noised", type=int, nargs="*", default=[200, 400, 600], metavar="T")
    parser.add_argument("--planes-from", type=int, default=None, metavar="T",
                        help="the real latent with each group of planes from the DiT's sample from t = T")
    parser.add_argument("--samplers", type=sampler_spec, nargs="*", default=[sampler_spec("dpm++:25")],
                        metavar="NAME:STEPS[:GUIDANCE[:specks|boxes]]")
    parser.add_argument("--keep", metavar="DIR", help="keep the generated scenes in DIR and read back those there")
    args = parser.parse_args()
    folder = Path(args.checkpoints)
    vae = load_bundle(folder / "vae_cpu", kind="hexplane-vae")
    dit_config = load_bundle(folder / "dit_cpu", kind="hexplane-dit").config
    grid = vae.config.grid()
    clips = suite.real_clips(grid, suite.CONDITIONS, args.requests)
    real = [clip.scene.labels for clip in clips]
    print(f"{args.requests} requests (command + trajectory + layout) and their real scenes\n")
    print(HEADER)
    print(row("real", real, grid), flush=True)
    for noise in [0.0, *args.noise]:
        print(row(f"real through the VAE, latent noise {noise:g}", noisy_reconstructions(vae, dit_config, real, noise), grid),
              flush=True)
    service = SceneGenerator(checkpoints=folder)
    for timestep in args.one_step:
        print(row(f"DiT's one-step estimate from t = {timestep}", one_step_estimates(service, clips, timestep), grid), flush=True)
    first = args.samplers[0] if args.samplers else sampler_spec("dpm++:25")
    for timestep in args.from_noised:
        print(row(f"sampled from t = {timestep}, {suite.describe(first)}", samples_from_noised(service, clips, timestep, first),
                  grid), flush=True)
    if args.planes_from is not None:
        pairs = latents_from_noised(service, clips, args.planes_from, first)
        for name, names in [*PLANE_GROUPS.items(), ("all", PLANES)]:
            print(row(f"real latent, {name} from the sample from t = {args.planes_from}", with_planes_of(service, pairs, names),
                      grid), flush=True)
        print(f"rms error per plane (normalised units): {plane_errors(service, pairs)}", flush=True)
    asked = [suite.conditions_of(clip) for clip in clips]
    kept = KeptScenes(service, args.keep) if args.keep else service
    for settings in args.samplers:
        generated = suite.generate_set(kept, asked, settings, frames=grid.frames)
        print(row(f"generated, {suite.describe(settings)}", [s.labels for s in generated.scenes], grid), flush=True)


if __name__ == "__main__":
    main()
