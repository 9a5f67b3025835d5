"""`SceneGenerator`: the one object the UI and the CLIs talk to (the `SceneService` protocol).

It makes procedural scenes, opens scene files and dataset folders, saves scenes, renders videos and
builds the interactive 3D view, each as a short named method over numpy types. Learned generation
(VAE and DiT) joins here as further stages; this is also the only place where numpy will meet torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.data.procedural import generate_clip
from core.data.scene_io import save_scene
from core.types import (
    GRID_PRESETS, Command, GridSpec, InputError, OccupancySequence, ProgressCallback, RenderSettings,
)


class SceneGenerator:
    """Serves scenes to the app. `dataset_paths` are CarlaSC / Occ3D scene folders given at launch."""

    def __init__(self, *, dataset_paths: list[str] | None = None) -> None:
        self._dataset_paths = [str(Path(p)) for p in dataset_paths or []]

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

    def frame_figure(self, scene: OccupancySequence, frame: int) -> Any:
        from core.render import frame_figure

        if not 0 <= frame < scene.num_frames:
            raise InputError(f"frame must be in 0..{scene.num_frames - 1}, got {frame}")
        return frame_figure(scene, frame)

    def dataset_scenes(self) -> list[str]:
        return list(self._dataset_paths)
