"""A fast stand-in for `SceneGenerator` so app tests run in milliseconds, with no models or rendering."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.data.scene_io import load_scene, save_scene
from core.types import Command, GridSpec, InputError, OccupancySequence, ProgressEvent, RenderSettings

TINY = GridSpec(4, (8, 8, 4), (0.8, 0.8, 0.375), (-3.2, -3.2, -1.0))


class FakeService:
    def __init__(self) -> None:
        self.rendered: list[str] = []
        self.requests: list = []
        self.settings: list = []  # of inpainting and extension

    def grid_presets(self) -> list[str]:
        return ["cpu", "carlasc"]

    def procedural_scene(self, *, seed: int, command: Command | None, preset: str) -> OccupancySequence:
        GridSpec.preset(preset)
        labels = np.zeros(TINY.shape, np.uint8)
        labels[:, :, :, 0] = 6
        labels[np.arange(4), np.arange(4), 3, 1] = 10
        name = (command or Command.FORWARD).name.lower()
        return OccupancySequence(labels, TINY, metadata={"source": "procedural", "seed": seed, "command": name})

    def load_scene(self, path: str) -> OccupancySequence:
        return load_scene(path)

    def save_scene(self, scene: OccupancySequence, path: str) -> str:
        return str(save_scene(scene, path))

    def render_video(self, scene, path, *, settings: RenderSettings, on_progress=None) -> str:
        for step in range(1, scene.num_frames + 1):
            if on_progress:
                on_progress(ProgressEvent("rendering", step, scene.num_frames))
        Path(path).write_bytes(b"fake mp4 " + settings.camera.encode())
        self.rendered.append(path)
        return path

    def frame_figure(self, scene: OccupancySequence, frame: int) -> dict:
        if not 0 <= frame < scene.num_frames:
            raise InputError(f"frame must be in 0..{scene.num_frames - 1}, got {frame}")
        return {"frame": frame}

    def dataset_scenes(self) -> list[str]:
        return []

    def scene_grid(self) -> GridSpec:
        return TINY

    def procedural_layout(self, *, seed: int):
        from core.types import Layout

        static = np.zeros(TINY.cells[:2], np.uint8)
        static[:, 3:5] = 6
        return Layout(static)

    def generate(self, request, on_progress=None) -> OccupancySequence:
        """A scene that shows its conditions: the layout on the ground layer, a car along the trajectory."""
        for step in range(1, 4):
            if on_progress:
                on_progress(ProgressEvent("sampling", step, 3))
        labels = np.zeros((request.frames, *TINY.cells), np.uint8)
        layout = request.conditions.layout
        labels[:, :, :, 0] = 6 if layout is None else layout.static
        self.requests.append(request)
        command = request.conditions.command
        recipe = {"version": 1, "mode": "generate", "seed": request.sampler.seed, "frames": request.frames,
                  "command": None if command is None else command.name.lower()}
        grid = TINY.with_frames(request.frames)
        return OccupancySequence(labels, grid, metadata={"source": "generated", "recipe": recipe})

    def generate_from_recipe(self, recipe, on_progress=None) -> OccupancySequence:
        if recipe.get("checkpoints") == "other":
            raise InputError("the recipe was made with other checkpoints")
        from core.types import Conditions, GenerationRequest, SamplerSettings

        command = Command.parse(recipe["command"]) if recipe.get("command") else None
        return self.generate(GenerationRequest(Conditions(command=command), SamplerSettings(seed=recipe["seed"]), recipe["frames"]))

    def inpaint(self, scene, mask, settings, *, frames=None, on_progress=None) -> OccupancySequence:
        self.settings.append(settings)
        labels = scene.labels.copy()
        labels[:, mask, 1] = 10
        return OccupancySequence(labels, scene.grid, scene.poses, scene.unobserved, scene.convention,
                                 {**scene.metadata, "source": "inpainted"})

    def export_meshes(self, scene, path, *, fmt="ply") -> str:
        Path(path).write_bytes(b"meshes " + fmt.encode())
        return path

    def export_lidar(self, scene, path, *, beams=32, max_range=50.0, dropout=0.05, seed=0) -> str:
        if beams < 1:
            raise InputError(f"beams must be at least 1, got {beams}")
        Path(path).write_bytes(b"scans")
        return path

    def render_comparison(self, before, after, path, *, settings, titles=("before", "after"), on_progress=None) -> str:
        Path(path).write_bytes(b"comparison")
        return path

    def extend(self, scene, settings, *, trajectory=None, on_progress=None) -> OccupancySequence:
        self.settings.append(settings)
        labels = np.concatenate([scene.labels, scene.labels[-4:]])
        return OccupancySequence(labels, scene.grid.with_frames(len(labels)), metadata={**scene.metadata, "clip_frames": 4})
