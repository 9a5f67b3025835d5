"""The measurements of the evaluation report, each a function from the models to plain numbers.

Real scenes are procedural test clips, in disjoint seed ranges: a reference set every distance is
measured against, a floor set (real vs real gives each distance's floor at the same set size), and a
set whose conditions (command, trajectory, drawn layout) the model is asked to follow. Scene features
are projected on the reference set's leading principal components before the Fréchet distance, so
its covariance is estimable from tens of scenes (`PCA_DIMS`); the kernel distance and precision /
recall use the full features.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from tqdm import tqdm

from core.data.procedural import ProceduralClip, generate_clip, split_seed
from core.eval import adherence, distances, temporal
from core.eval.features import SceneFeatureNet, extract_features
from core.types import Conditions, GenerationRequest, GridSpec, Layout, OccupancySequence, SamplerSettings, SceneService

PCA_DIMS = 16
GENERATION_SECONDS = "generation_seconds"
"""Metadata key of the seconds a kept scene's generation took (core.eval.kept)."""
REFERENCE, FLOOR, CONDITIONS, INPAINT = 100_000, 200_000, 300_000, 400_000  # test-seed offsets of the sets


@dataclass(frozen=True)
class ReportSize:
    reference: int  # real scenes every distance is measured against
    generated: int  # scenes per generated set (and per real floor set)
    nothing_sets: int  # sets of `generated` requests with nothing (each scene a fresh draw: precision is noisy)
    floor_sets: int  # disjoint real sets the floor is averaged over
    inpaint: int
    long_scenes: int
    long_frames: tuple[int, ...]
    sampler_scenes: int
    reference_steps: int  # of the ancestral DDPM sampler the study compares with (1000 in the full mode)
    recon: int
    rounds: int  # subsets for the confidence intervals (their tails need a few hundred)


SIZES = {
    "quick": ReportSize(reference=48, generated=12, nothing_sets=2, floor_sets=4, inpaint=4, long_scenes=2, long_frames=(64,), sampler_scenes=4,
                        reference_steps=200, recon=8, rounds=100),
    "full": ReportSize(reference=256, generated=64, nothing_sets=3, floor_sets=4, inpaint=16, long_scenes=8, long_frames=(64, 128), sampler_scenes=16,
                       reference_steps=1000, recon=32, rounds=200),
}


def real_clips(grid: GridSpec, offset: int, count: int, **options) -> list[ProceduralClip]:
    return [generate_clip(split_seed("test", offset + index), grid=grid, **options) for index in range(count)]


@dataclass
class FeatureSpace:
    """Scene features of the reference set, and the distances of any other set to it."""

    network: SceneFeatureNet
    reference: list[np.ndarray]
    rounds: int
    volume: np.ndarray = field(init=False)
    bird_eye: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.volume, self.bird_eye = extract_features(self.network, self.reference)
        self._axes = {name: _principal_axes(values) for name, values in (("volume", self.volume), ("bird_eye", self.bird_eye))}

    def compare(self, scenes: list[np.ndarray]) -> dict[str, object]:
        """FSD (with interval), KSD, precision and recall of `scenes` against the reference, both branches."""
        volume, bird_eye = extract_features(self.network, scenes)
        result = {}
        for name, reference, other in (("volume", self.volume, volume), ("bird_eye", self.bird_eye, bird_eye)):
            result[f"{name}_fsd"] = distances.bootstrap(distances.frechet_distance, self._project(name, reference),
                                                        self._project(name, other), rounds=self.rounds, within=(0.0, np.inf))
            result[f"{name}_ksd"] = distances.kernel_distance(reference, other)
            if name == "volume":
                result.update(self._precision_recall(other))
        return result

    def _precision_recall(self, fake: np.ndarray) -> dict[str, object]:
        """Precision and recall of 3D features, with intervals from 5 scenes a set on: the k-NN radii
        need k + 1 = 4 scenes a set, and the interval's subsets are 4/5 of it."""
        if min(len(self.volume), len(fake)) < 5:
            shares = distances.precision_recall(self.volume, fake) if len(fake) >= 4 else (np.nan, np.nan)
            return dict(zip(("precision", "recall"), shares))
        return {key: distances.bootstrap(lambda r, f, i=index: distances.precision_recall(r, f)[i], self.volume, fake,
                                         rounds=self.rounds, within=(0.0, 1.0)) for index, key in enumerate(("precision", "recall"))}

    def inside(self, scenes: list[np.ndarray]) -> np.ndarray:
        """Per scene: whether it lies inside the reference set's manifold (3D features); `compare`'s
        precision is their mean."""
        volume, _ = extract_features(self.network, scenes)
        return distances.inside_real(self.volume, volume)

    def inside_per_command(self, scenes: list[OccupancySequence]) -> dict[str, np.ndarray]:
        """`inside` of the scenes grouped by the command of their recipe (a drawn drive's drawn command);
        scenes without one are left out."""
        inside = self.inside([scene.labels for scene in scenes])
        drawn = np.array([str(scene.metadata.get("recipe", {}).get("conditions", {}).get("command")) for scene in scenes])
        return {command: inside[drawn == command] for command in sorted(set(drawn) - {"None"})}

    def fsd_ratio(self, numerator: list[np.ndarray], denominator: list[np.ndarray]) -> distances.Estimate:
        """FSD (3D) of `numerator` over that of `denominator`, two sets made for the same requests and
        seeds in the same order, with the paired interval of `distances.bootstrap_ratio`."""
        (top, _), (bottom, _) = extract_features(self.network, numerator), extract_features(self.network, denominator)
        return distances.bootstrap_ratio(distances.frechet_distance, self._project("volume", self.volume),
                                         self._project("volume", top), self._project("volume", bottom), rounds=self.rounds)

    def _project(self, name: str, values: np.ndarray) -> np.ndarray:
        """Features of branch `name` on the reference set's leading principal axes."""
        center, axes = self._axes[name]
        return (values - center) @ axes


def plain(measured: dict) -> dict:
    """`FeatureSpace.compare`'s measures as plain numbers (an estimate's value without its interval)."""
    return {key: (value.value if isinstance(value, distances.Estimate) else value) for key, value in measured.items()}


def _principal_axes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    center = values.mean(axis=0)
    _, _, vt = np.linalg.svd(values - center, full_matrices=False)
    return center, vt[:PCA_DIMS].T


def conditions_of(clip: ProceduralClip, *, command: bool = True, trajectory: bool = True, layout: bool = True,
                  vehicles: bool = False) -> Conditions:
    """What a person would ask for to get this clip: its command, its path, its static layout as drawn
    (`vehicles`: with the clip's per-frame vehicle occupancy as well)."""
    drawn = Layout(clip.layout.static, clip.layout.vehicles if vehicles else None) if layout else None
    return Conditions(command=clip.command if command else None, trajectory=clip.trajectory if trajectory else None,
                      layout=drawn)


@dataclass
class GeneratedSet:
    scenes: list[OccupancySequence]
    seconds_per_scene: float


def describe(settings: SamplerSettings) -> str:
    """'dpm++ 25 steps, guidance 4 from t = 500' (or 'at every step'; ', vehicle specks removed', ', cars
    redrawn as boxes')."""
    every = settings.guidance_from is None or settings.guidance_from >= 999
    return (f"{settings.sampler} {settings.steps} steps, guidance {settings.guidance_scale:g} "
            + ("at every step" if every else f"from t = {settings.guidance_from}")
            + (", vehicle specks removed" if settings.remove_specks else "")
            + (", cars redrawn as boxes" if settings.vehicle_boxes else ""))


def generate_set(service: SceneService, conditions: list[Conditions], settings: SamplerSettings, *, frames: int,
                 command_path: bool = True) -> GeneratedSet:
    """One scene per conditions, seeds 0, 1, 2, ... on top of `settings.seed` (`command_path`: see
    `GenerationRequest`). The seconds per scene are those of generation: for a scene read back from a
    `core.eval.kept` folder, the seconds it took when it was made."""
    scenes, seconds = [], []
    label = f"{describe(settings)}, {frames} frames"
    for index, wanted in enumerate(tqdm(conditions, desc=label, leave=False)):
        sampler = replace(settings, seed=settings.seed + index)
        started = time.perf_counter()
        scenes.append(service.generate(GenerationRequest(wanted, sampler, frames, command_path=command_path)))
        seconds.append(scenes[-1].metadata.get(GENERATION_SECONDS, time.perf_counter() - started))
    return GeneratedSet(scenes, float(np.mean(seconds)) if seconds else 0.0)


def per_command_text(by_command: dict[str, np.ndarray]) -> str:
    """`FeatureSpace.inside_per_command` as the report and the bench print it: 'forward 0.85 (66), left
    0.57 (60), ...' (the share inside the real manifold, how many scenes)."""
    return ", ".join(f"{command} {found.mean():.2f} ({len(found)})" for command, found in by_command.items())


def adherence_summary(scenes: list[OccupancySequence], clips: list[ProceduralClip], *, layout: bool, trajectory: bool,
                      command: bool) -> dict[str, float]:
    """Over a set, for the conditions that were asked: mean layout IoU; command accuracy; trajectory
    errors, on-road share and collisions."""
    result: dict[str, float] = {}
    if layout:
        result["layout_iou"] = float(np.mean([adherence.layout_iou(c.layout.static, s)["mean"] for s, c in zip(scenes, clips)]))
    followed = [adherence.trajectory_adherence(s, c.trajectory, c.command) for s, c in zip(scenes, clips)]
    if command:
        result["command_accuracy"] = float(np.mean([f.command_match for f in followed]))
    if trajectory:
        result["final_error_m"] = float(np.median([f.final_error for f in followed]))
        result["mean_error_m"] = float(np.mean([f.position_error.mean() for f in followed]))
        result["heading_error_deg"] = float(np.degrees(np.mean([f.heading_error.mean() for f in followed])))
        result["ego_found"] = float(np.mean([f.found_share for f in followed]))
        result["on_road"] = float(np.mean([f.on_road_share for f in followed]))
        result["collisions"] = float(np.mean([f.collision for f in followed]))
    return result


def temporal_summary(scenes: list[OccupancySequence]) -> dict[str, float]:
    tracks = [temporal.vehicle_tracks(s) for s in scenes]
    return {"flicker": float(np.mean([temporal.flicker_rate(s) for s in scenes])),
            "vehicle_acceleration": float(np.mean([t.mean_acceleration for t in tracks])),
            "track_breaks": float(np.mean([t.break_rate for t in tracks])),
            "vehicle_debris": float(np.mean([temporal.vehicle_debris(s) for s in scenes]))}


def inpaint_mask(grid: GridSpec, index: int) -> np.ndarray:
    """A rectangle of 15–35 % of the grid, placed by `index` (deterministic)."""
    rng = np.random.default_rng(index)
    x, y = grid.cells[:2]
    share = rng.uniform(0.15, 0.35)
    width = int(np.sqrt(share) * x)
    height = int(share * x * y / width)
    left, top = rng.integers(0, x - width + 1), rng.integers(0, y - height + 1)
    mask = np.zeros((x, y), bool)
    mask[left: left + width, top: top + height] = True
    return mask


def clips_of(scene: OccupancySequence, clip_frames: int) -> list[np.ndarray]:
    """The (clip_frames, X, Y, Z) clips a long scene is made of, in order."""
    return [scene.labels[start: start + clip_frames] for start in range(0, scene.num_frames, clip_frames)]
