"""Generated scenes kept on disk, so a long evaluation resumes where it stopped.

`KeptScenes(generator, folder)` serves like `generator`, but writes every scene its `generate` makes to
`folder`, one `.npz` per request, named by a hash of what the scene depends on: the request's recipe
(conditions, sampler, seed, frames, and the hashes of the checkpoints that serve it), its `command_path`,
the device and the torch version. A request asked again, in this run or a later one, is read back instead
of generated: the report (`python -m core.eval report --keep DIR`) and the sampler bench (`--keep DIR`),
whose 1000-step reference takes hours on 2 cores, can be stopped and started again, as the training runs
can. Inpainting and extension are not kept (the report's few are quick). Generation is exact (a recipe
makes its scene again bit for bit), so a kept scene is the scene the request would get; a change of the
generation code that keeps the recipe format is not seen, so keep a folder for one version of the code.
Each kept scene records the seconds its generation took (`suite.GENERATION_SECONDS` in its metadata),
which `suite.generate_set` reports instead of the time to read it back.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import torch

from core.api import SceneGenerator
from core.data.scene_io import load_scene, save_scene
from core.eval.suite import GENERATION_SECONDS
from core.generation import recipe_for
from core.types import GenerationRequest, OccupancySequence, ProgressCallback


class KeptScenes:
    """`generator` with its generated scenes kept in `folder` (see the module)."""

    def __init__(self, generator: SceneGenerator, folder: str | Path) -> None:
        self.generator, self.folder = generator, Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.read_back = 0  # scenes served from the folder (made by an earlier request, or an earlier run)

    def generate(self, request: GenerationRequest, on_progress: ProgressCallback | None = None) -> OccupancySequence:
        path = self.folder / f"{self.key(request)}.npz"
        if path.is_file():
            self.read_back += 1
            return load_scene(path)
        started = time.perf_counter()
        scene = self.generator.generate(request, on_progress)
        scene.metadata[GENERATION_SECONDS] = time.perf_counter() - started
        save_scene(scene, path)
        return scene

    def key(self, request: GenerationRequest) -> str:
        described = {"recipe": recipe_for(request, self.generator.hashes_for(request)),
                     "command_path": request.command_path, "device": self.generator.device, "torch": torch.__version__}
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]

    def __getattr__(self, name: str):
        return getattr(self.generator, name)
