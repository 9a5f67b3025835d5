"""`SceneGenerator`: the one object the UI and the CLIs talk to (the `SceneService` protocol).

It makes procedural scenes, opens scene files and dataset folders, saves scenes, renders videos and
builds the interactive 3D view, and generates and inpaints scenes with the trained VAE and DiT
(`core.generation`), each as a short named method over numpy types. The models load on first use, so
everything else works without checkpoints; device and dtype are chosen here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.data.procedural import generate_clip
from core.data.scene_io import save_scene
from core.types import (
    GRID_PRESETS, Command, GridSpec, InputError, OccupancySequence, ProgressCallback, RenderSettings,
    GenerationRequest, Layout, SamplerSettings, Trajectory,
)

if TYPE_CHECKING:
    import numpy as np
    import torch


DEFAULT_CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
GUIDE = "dit_guide"  # the optional bundle that guides requests that reach the model with nothing (core.pipeline)


class SceneGenerator:
    """Serves scenes to the app. `checkpoints` holds the `vae_cpu` and `dit_cpu` bundles (and optionally
    `dit_guide_cpu`, the guide for requests that reach the model with nothing: `core.pipeline`);
    `dataset_paths` are CarlaSC / Occ3D scene folders given at launch; `device` defaults to CUDA when
    present, else the CPU."""

    def __init__(self, *, checkpoints: str | Path = DEFAULT_CHECKPOINTS, dataset_paths: list[str] | None = None,
                 device: str | None = None) -> None:
        self._dataset_paths = [str(Path(p)) for p in dataset_paths or []]
        self._checkpoints = Path(checkpoints)
        self._device = device
        self._pipeline = None

    def _load(self):
        """The latent pipeline, loaded once on first use."""
        if self._pipeline is None:
            import torch

            from core.checkpoint import bundle_hash, load_bundle
            from core.pipeline import LatentPipeline

            device = self._device or ("cuda" if torch.cuda.is_available() else "cpu")
            folders = {name: self._checkpoints / f"{name}_cpu" for name in ("vae", "dit")}
            missing = [str(folder) for folder in folders.values() if not (folder / "config.json").is_file()]
            if missing:
                raise InputError(f"no trained model at {', '.join(missing)}: train it (README, 'Train the models') "
                                 "or point --checkpoints at a folder with vae_cpu/ and dit_cpu/")
            vae = load_bundle(folders["vae"], kind="hexplane-vae", device=device)
            dit = load_bundle(folders["dit"], kind="hexplane-dit", device=device)
            guide = None
            if (self._checkpoints / f"{GUIDE}_cpu" / "config.json").is_file():  # optional: see core.pipeline
                folders[GUIDE] = self._checkpoints / f"{GUIDE}_cpu"
                guide = load_bundle(folders[GUIDE], kind="hexplane-dit", device=device)
            self._pipeline = LatentPipeline(vae, dit, guide=guide, device=device)
            self._hashes = {name: bundle_hash(folder) for name, folder in folders.items()}
        return self._pipeline

    def scene_grid(self) -> GridSpec:
        """The grid the models generate: read from the VAE bundle's config (no model is built), or
        the cpu preset when there is no bundle yet (so drawing works before any checkpoint exists)."""
        from core.checkpoint import read_bundle_meta
        from core.config import VAEConfig, config_from_dict

        if self._pipeline is not None:
            return self._pipeline.vae.config.grid()
        try:
            return config_from_dict(VAEConfig, read_bundle_meta(self._checkpoints / "vae_cpu")["config"]).grid()
        except InputError:
            return GridSpec.preset("cpu")

    def procedural_layout(self, *, seed: int) -> Layout:
        """The bird's-eye static layout of a procedural clip on the models' grid, to start a drawing from."""
        if not 0 <= int(seed) < 2**31:
            raise InputError(f"seed must be in 0..{2**31 - 1}, got {seed}")
        return Layout(generate_clip(int(seed), grid=self.scene_grid()).layout.static)

    def generate(self, request: GenerationRequest, on_progress: ProgressCallback | None = None) -> OccupancySequence:
        """A new scene from conditions (a command alone drives a typical path of it: `GenerationRequest`);
        its metadata holds the recipe that makes it again."""
        return self.decode_latents(request, self.sample_latents(request, on_progress), on_progress)

    def sample_latents(self, request: GenerationRequest, on_progress: ProgressCallback | None = None) -> list[torch.Tensor]:
        """The first stage of `generate`: the DiT's sample of each clip (a normalised rollout). It does not
        depend on the VAE, so `decode_latents` can turn it into the scene with another decoder."""
        from core.generation import sample_clips, with_command_path

        pipeline = self._load()
        return sample_clips(pipeline, with_command_path(request, pipeline.vae.config.frames), on_progress)

    def decode_latents(self, request: GenerationRequest, latents: list[torch.Tensor],
                       on_progress: ProgressCallback | None = None) -> OccupancySequence:
        """The second stage of `generate`: the scene of the request's sampled clips, with its recipe."""
        from core.generation import decode_clips, recipe_for, with_command_path

        pipeline = self._load()
        asked, request = request, with_command_path(request, pipeline.vae.config.frames)
        scene = decode_clips(pipeline, request, latents, on_progress)
        drawn = asked.conditions.empty() and not request.conditions.empty()
        scene.metadata["recipe"] = recipe_for(request, self.hashes_for(request), drawn=drawn)
        return scene

    def generate_from_recipe(self, recipe: dict, on_progress: ProgressCallback | None = None) -> OccupancySequence:
        from core.generation import request_from_recipe

        pipeline = self._load()
        request = request_from_recipe(recipe, pipeline.vae.config.grid())
        stored, current = recipe.get("checkpoints", {}), self.hashes_for(request)
        if stored and stored != current:
            raise InputError(f"the recipe was made with other checkpoints ({stored}); these are {current}")
        return self.generate(request, on_progress)

    def hashes_for(self, request: GenerationRequest) -> dict[str, str]:
        """The hashes of the bundles a request's scene depends on: the guide steers only requests
        that reach the model without conditions (a request with nothing draws a drive first, unless
        its `command_path` is off)."""
        self._load()
        steered = request.conditions.empty() and not request.command_path
        return {name: digest for name, digest in self._hashes.items() if name != GUIDE or steered}

    @property
    def device(self) -> str:
        """Where the models run; the sampling noise is drawn there, so a scene depends on it."""
        return str(self._load().device)

    def extend(self, scene: OccupancySequence, settings: SamplerSettings, *, trajectory: Trajectory | None = None,
               on_progress: ProgressCallback | None = None) -> OccupancySequence:
        """The scene with one more clip that continues it (up to 128 frames)."""
        from core.generation import extend_scene

        return extend_scene(self._load(), scene, settings, trajectory=trajectory, on_progress=on_progress)

    def inpaint(self, scene: OccupancySequence, mask: "np.ndarray", settings: SamplerSettings, *,
                frames: range | None = None, on_progress: ProgressCallback | None = None) -> OccupancySequence:
        """Regenerate the bird's-eye `mask` region (X, Y) of a scene; everything outside stays exact."""
        from core.generation import inpaint_scene

        result = inpaint_scene(self._load(), scene, mask, settings, frames=frames, on_progress=on_progress)
        result.metadata["inpainting"] = {"sampler": settings.__dict__, "frames": None if frames is None else [frames.start, frames.stop],
                                         "mask_cells": int(mask.sum()), "checkpoints": self._hashes}
        return result

    def grid_presets(self) -> list[str]:
        return list(GRID_PRESETS)

    def procedural_scene(self, *, seed: int, command: Command | None = None, preset: str = "cpu") -> OccupancySequence:
        if not 0 <= int(seed) < 2**31:
            raise InputError(f"seed must be in 0..{2**31 - 1}, got {seed}")
        return generate_clip(int(seed), grid=GridSpec.preset(preset), command=command).scene

    def load_scene(self, path: str) -> OccupancySequence:
        """A scene `.npz` as stored, or a CarlaSC / Occ3D scene folder: its first clip of up to 16
        frames on the cpu grid, anchored when the folder has poses."""
        from core.data.sources import open_reader, open_scene

        reader = open_reader(path)
        frames = 16 if reader is None else min(16, reader.num_frames)
        return open_scene(path, convention=None, frames=frames)

    def save_scene(self, scene: OccupancySequence, path: str) -> str:
        return str(save_scene(scene, path))

    def render_video(
        self, scene: OccupancySequence, path: str, *, settings: RenderSettings,
        on_progress: ProgressCallback | None = None,
    ) -> str:
        from core.render import render_video

        return str(render_video(scene, path, settings, on_progress=on_progress))

    def render_comparison(
        self, before: OccupancySequence, after: OccupancySequence, path: str, *, settings: RenderSettings,
        titles: tuple[str, str] = ("before", "after"), on_progress: ProgressCallback | None = None,
    ) -> str:
        from core.render import side_by_side

        return str(side_by_side(before, after, path, settings, titles=titles, on_progress=on_progress))

    def frame_figure(self, scene: OccupancySequence, frame: int) -> Any:
        from core.render import frame_figure

        if not 0 <= frame < scene.num_frames:
            raise InputError(f"frame must be in 0..{scene.num_frames - 1}, got {frame}")
        return frame_figure(scene, frame)

    def export_meshes(self, scene: OccupancySequence, path: str, *, fmt: str = "ply") -> str:
        """A .zip of one mesh per frame (.ply or .glb), metres in the first clip's frame."""
        from core.export import export_meshes_zip

        return str(export_meshes_zip(scene, path, fmt))

    def export_lidar(self, scene: OccupancySequence, path: str, *, beams: int = 32, max_range: float = 50.0,
                     dropout: float = 0.05, seed: int = 0) -> str:
        """A .zip of simulated LiDAR scans (KITTI .bin and .ply per frame) from the ego pose."""
        from core.export import LidarSettings, export_scans_zip

        settings = LidarSettings(beams=int(beams), max_range=float(max_range), dropout=float(dropout))
        return str(export_scans_zip(scene, path, settings, seed=int(seed)))

    def dataset_scenes(self) -> list[str]:
        return list(self._dataset_paths)
