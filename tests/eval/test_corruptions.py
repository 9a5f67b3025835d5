"""Corruptions change real scenes in the way their names say, and leave clean scenes alone."""

import numpy as np
import pytest

from core.data.palette import PALETTE
from core.data.procedural import generate_clip, split_seed
from core.eval.corruptions import CORRUPTIONS, corrupt, frame_shuffle, freeze, vanish
from core.types import GridSpec


@pytest.fixture(scope="module")
def labels():
    return generate_clip(split_seed("test", 5), grid=GridSpec.preset("cpu")).scene.labels


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_each_corruption_changes_the_scene_and_keeps_its_shape(labels, name):
    out = CORRUPTIONS[name](labels, 1.0, np.random.default_rng(0))
    assert out.shape == labels.shape and out.dtype == labels.dtype and not np.array_equal(out, labels)
    assert out.max() < PALETTE.num_classes


def test_corruptions_do_what_they_say(labels):
    rng = np.random.default_rng(1)
    shuffled = frame_shuffle(labels, 1.0, rng)
    assert sorted(map(bytes, shuffled)) == sorted(map(bytes, labels))  # the same frames, in another order
    frozen = freeze(labels, 1.0, rng)
    assert sum(np.array_equal(frozen[t], frozen[t + 1]) for t in range(15)) >= 10
    gone = vanish(labels, 1.0, rng)
    assert (gone == PALETTE.class_id("vehicle")).sum() < (labels == PALETTE.class_id("vehicle")).sum()


def test_clean_scenes_pass_through(labels):
    out, kind, strength = corrupt(labels, np.random.default_rng(0), clean_share=1.0)
    assert out is labels and kind == 0 and strength == 0.0
    kinds = {corrupt(labels, np.random.default_rng(seed), clean_share=0.0)[1] for seed in range(40)}
    assert kinds == set(range(1, len(CORRUPTIONS) + 1))
