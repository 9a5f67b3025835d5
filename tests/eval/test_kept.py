"""Kept scenes: a request asked again, in this run or a later one, is read back, not generated again."""

import time

import numpy as np
import pytest

from core.eval import suite
from core.eval.kept import SECONDS, KeptScenes
from core.generation import recipe_for
from core.types import Command, Conditions, GenerationRequest, GridSpec, OccupancySequence, SamplerSettings

GRID = GridSpec(2, (8, 8, 4), (0.8, 0.8, 0.375), (-3.2, -3.2, -1.0))


class CountingService:
    """Scenes drawn from the request's seed, a little slowly; counts what it generates; fails on request."""

    def __init__(self, hashes=None, fail_at=None):
        self.hashes, self.fail_at, self.made = hashes or {"dit": "d1", "vae": "v1"}, fail_at, []

    def hashes_for(self, request):
        return self.hashes

    def generate(self, request, on_progress=None):
        if len(self.made) == self.fail_at:
            raise KeyboardInterrupt  # the session ends
        self.made.append(request.sampler.seed)
        time.sleep(0.05)
        labels = np.random.default_rng(request.sampler.seed).integers(0, 11, (2, 8, 8, 4), dtype=np.uint8)
        return OccupancySequence(labels, GRID, metadata={"recipe": recipe_for(request, self.hashes)})

    def scene_grid(self):
        return GRID


def request(seed=0, **options):
    return GenerationRequest(Conditions(command=Command.LEFT), SamplerSettings(seed=seed), frames=2, **options)


def test_a_request_asked_again_is_read_back(tmp_path):
    service = CountingService()
    kept = KeptScenes(service, tmp_path)
    first = kept.generate(request(3))
    again = KeptScenes(CountingService(), tmp_path).generate(request(3))  # a later run
    assert service.made == [3] and np.array_equal(first.labels, again.labels)
    assert again.metadata["recipe"] == first.metadata["recipe"] and again.metadata[SECONDS] >= 0.05
    assert kept.scene_grid() is GRID  # everything else is the service's


@pytest.mark.parametrize("other", [
    request(4),  # another seed
    request(3, command_path=False),  # nothing asked: the model alone, not a drawn drive
    GenerationRequest(Conditions(command=Command.RIGHT), SamplerSettings(seed=3), frames=2),
    GenerationRequest(Conditions(command=Command.LEFT), SamplerSettings(sampler="ddpm", steps=1000, seed=3), frames=2),
])
def test_anything_the_scene_depends_on_makes_another_scene(tmp_path, other):
    service = CountingService()
    KeptScenes(service, tmp_path).generate(request(3))
    KeptScenes(service, tmp_path).generate(other)
    assert len(service.made) == 2


def test_other_checkpoints_make_another_scene(tmp_path):
    KeptScenes(CountingService(), tmp_path).generate(request(3))
    retrained = CountingService(hashes={"dit": "d2", "vae": "v1"})
    KeptScenes(retrained, tmp_path).generate(request(3))
    assert retrained.made == [3]


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
