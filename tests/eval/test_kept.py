"""Kept scenes: a request asked again, in this run or a later one, is read back, not generated again."""

import time

import numpy as np
import pytest
import torch

from core.eval import suite
from core.eval.kept import KeptScenes
from core.eval.suite import GENERATION_SECONDS
from core.generation import recipe_for
from core.types import (
    Command, Conditions, GenerationRequest, GridSpec, Layout, OccupancySequence, SamplerSettings, Trajectory,
)

GRID = GridSpec(2, (8, 8, 4), (0.8, 0.8, 0.375), (-3.2, -3.2, -1.0))


class CountingService:
    """Samples drawn from the request's seed, a little slowly, and scenes decoded from them by its VAE
    (labels offset by its hash's last digit); counts what it samples; fails on request."""

    def __init__(self, hashes=None, fail_at=None, device="cpu"):
        self.hashes, self.fail_at, self.device, self.made = hashes or {"dit": "d1", "vae": "v1"}, fail_at, device, []

    def hashes_for(self, request):
        return self.hashes

    def generate(self, request, on_progress=None):
        return self.decode_latents(request, self.sample_latents(request, on_progress))

    def sample_latents(self, request, on_progress=None):
        if len(self.made) == self.fail_at:
            raise KeyboardInterrupt  # the session ends
        self.made.append(request.sampler.seed)
        time.sleep(0.05)
        return [torch.from_numpy(np.random.default_rng(request.sampler.seed).normal(size=(1, 3, 8, 8)).astype(np.float32))]

    def decode_latents(self, request, latents, on_progress=None):
        offset = int(self.hashes["vae"][-1])
        labels = np.broadcast_to((latents[0][0, 0].numpy() > 0).astype(np.uint8)[..., None] + offset, (2, 8, 8, 4)).copy()
        return OccupancySequence(labels, GRID, metadata={"recipe": recipe_for(request, self.hashes)})

    def scene_grid(self):
        return GRID


def request(seed=0, frames=2, **options):
    return GenerationRequest(Conditions(command=Command.LEFT), SamplerSettings(seed=seed), frames=frames, **options)


def test_a_request_asked_again_is_read_back(tmp_path):
    service = CountingService()
    kept = KeptScenes(service, tmp_path)
    first = kept.generate(request(3))
    later = CountingService()
    again = KeptScenes(later, tmp_path).generate(request(3))  # a later run
    assert service.made == [3] and later.made == [] and np.array_equal(first.labels, again.labels)
    assert kept.generate(request(3)).labels.tolist() == first.labels.tolist() and service.made == [3]
    assert kept.read_back == 1
    assert again.metadata["recipe"] == first.metadata["recipe"] and again.metadata[GENERATION_SECONDS] >= 0.05
    assert kept.scene_grid() is GRID  # everything else is the service's


@pytest.mark.parametrize("other", [
    request(4),  # another seed
    request(3, command_path=False),  # the command alone, not driven along a typical path
    request(3, frames=4),
    GenerationRequest(Conditions(command=Command.RIGHT), SamplerSettings(seed=3), frames=2),
    GenerationRequest(Conditions(command=Command.LEFT), SamplerSettings(sampler="ddpm", steps=1000, seed=3), frames=2),
    GenerationRequest(Conditions(command=Command.LEFT), SamplerSettings(seed=3, guidance_from=500), frames=2),
    GenerationRequest(Conditions(Command.LEFT, trajectory=Trajectory(np.zeros((2, 3)))), SamplerSettings(seed=3), 2),
    GenerationRequest(Conditions(Command.LEFT, layout=Layout(np.zeros((8, 8), np.uint8))), SamplerSettings(seed=3), 2),
])
def test_anything_the_scene_depends_on_makes_another_scene(tmp_path, other):
    service = CountingService()
    KeptScenes(service, tmp_path).generate(request(3))
    KeptScenes(service, tmp_path).generate(other)
    assert len(service.made) == 2


@pytest.mark.parametrize("other", [CountingService(hashes={"dit": "d2", "vae": "v1"}), CountingService(device="cuda:0")])
def test_another_dit_or_another_device_samples_again(tmp_path, other):
    KeptScenes(CountingService(), tmp_path).generate(request(3))
    KeptScenes(other, tmp_path).generate(request(3))
    assert other.made == [3]


def test_another_vae_decodes_the_kept_sample_and_keeps_its_sampling_time(tmp_path):
    first = KeptScenes(CountingService(), tmp_path).generate(request(3))
    other = CountingService(hashes={"dit": "d1", "vae": "v2"})
    kept = KeptScenes(other, tmp_path)
    decoded = kept.generate(request(3))
    assert other.made == [] and kept.decoded == 1 and kept.read_back == 0
    assert np.array_equal(decoded.labels, first.labels + 1)  # the other VAE's decoding of the same sample
    assert decoded.metadata["recipe"]["checkpoints"] == other.hashes and decoded.metadata[GENERATION_SECONDS] >= 0.05
    assert np.array_equal(kept.generate(request(3)).labels, decoded.labels) and kept.read_back == 1  # now kept as well


def test_a_stopped_set_resumes_with_the_time_generation_took(tmp_path):
    asked = [Conditions(command=Command.LEFT)] * 5
    with pytest.raises(KeyboardInterrupt):
        suite.generate_set(KeptScenes(CountingService(fail_at=3), tmp_path), asked, SamplerSettings(), frames=2)
    later = CountingService()
    resumed = suite.generate_set(KeptScenes(later, tmp_path), asked, SamplerSettings(), frames=2)
    assert later.made == [3, 4] and len(resumed.scenes) == 5
    assert resumed.seconds_per_scene >= 0.05  # not the milliseconds of reading the first three back
    read_back = suite.generate_set(KeptScenes(CountingService(fail_at=0), tmp_path), asked, SamplerSettings(), frames=2)
    assert read_back.seconds_per_scene == pytest.approx(resumed.seconds_per_scene)
    assert all(np.array_equal(a.labels, b.labels) for a, b in zip(resumed.scenes, read_back.scenes))
