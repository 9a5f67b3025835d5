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

The DiT's samples are kept too (`*.latents.npz`, named the same way but without the VAE's hash and the
vehicle clean-ups, which they do not depend on): with another decoder (a VAE whose decoder alone was
trained further), or with specks removed or cars redrawn as boxes, a request is decoded from its kept sample, in a fraction of a
second, instead of sampled again.
Each kept scene records the seconds its generation took (`suite.GENERATION_SECONDS` in its metadata),
which `suite.generate_set` reports instead of the time to read it back; a scene decoded from a kept
sample records the seconds its sampling took plus those of its decoding.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from core.api import SceneGenerator
from core.data.scene_io import load_scene, read_npz, save_scene
from core.eval.suite import GENERATION_SECONDS
from core.fileio import atomic_write
from core.generation import recipe_for
from core.types import GenerationRequest, OccupancySequence, ProgressCallback


class KeptScenes:
    """`generator` with its generated scenes kept in `folder` (see the module)."""

    def __init__(self, generator: SceneGenerator, folder: str | Path) -> None:
        self.generator, self.folder = generator, Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.read_back = 0  # scenes served from the folder (made by an earlier request, or an earlier run)
        self.decoded = 0  # scenes decoded from a kept sample (made with another VAE)

    def generate(self, request: GenerationRequest, on_progress: ProgressCallback | None = None) -> OccupancySequence:
        path = self.folder / f"{self.key(request)}.npz"
        sampled = self.folder / f"{self.key(request, vae=False)}.latents.npz"
        if path.is_file():
            self.read_back += 1
            return load_scene(path)
        if sampled.is_file():
            latents, seconds = _load_latents(sampled)
            self.decoded += 1
        else:
            started = time.perf_counter()
            latents = self.generator.sample_latents(request, on_progress)
            seconds = time.perf_counter() - started
            _save_latents(sampled, latents, seconds)
        started = time.perf_counter()
        scene = self.generator.decode_latents(request, latents, on_progress)
        scene.metadata[GENERATION_SECONDS] = seconds + time.perf_counter() - started
        save_scene(scene, path)
        return scene

    def key(self, request: GenerationRequest, *, vae: bool = True) -> str:
        """The name of a request's kept scene; with `vae` off, of its kept sample (the VAE's hash left out)."""
        hashes = {name: digest for name, digest in self.generator.hashes_for(request).items() if vae or name != "vae"}
        if not vae:  # the sample does not depend on how it is decoded
            request = replace(request, sampler=replace(request.sampler, remove_specks=False, vehicle_boxes=False))
        described = {"recipe": recipe_for(request, hashes), "command_path": request.command_path,
                     "device": self.generator.device, "torch": torch.__version__}
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]

    def __getattr__(self, name: str):
        return getattr(self.generator, name)


def _save_latents(path: Path, latents: list[torch.Tensor], seconds: float) -> None:
    arrays = {f"clip{i}": latent.detach().cpu().numpy() for i, latent in enumerate(latents)}
    atomic_write(path, lambda temp: np.savez(temp, seconds=np.float64(seconds), **arrays))


def _load_latents(path: Path) -> tuple[list[torch.Tensor], float]:
    stored = read_npz(path)
    clips = sorted((name for name in stored if name.startswith("clip")), key=lambda name: int(name[4:]))
    return [torch.from_numpy(stored[name]) for name in clips], float(stored["seconds"])
