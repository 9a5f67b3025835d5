"""bench/projection_attention.py: a mean gives R effective positions; a selective projection fewer."""

import dataclasses

import pytest
import torch

from bench.projection_attention import attention_spread
from core.config import vae_preset
from core.models.hexplane import PLANES
from core.models.vae import HexPlaneVAE
from core.train.clips import make_clip_source


@pytest.fixture(scope="module")
def clips():
    return make_clip_source("procedural", vae_preset("tiny"), convention="anchored").eval_clips(2)


def test_a_projection_whose_queries_read_nothing_is_a_mean_and_a_sharpened_one_is_not(clips):
    torch.manual_seed(0)
    vae = HexPlaneVAE(vae_preset("tiny")).eval()
    with torch.no_grad():
        for name in PLANES:
            project = vae.projection.project[name]
            project.to_query.weight.zero_(), project.to_query.bias.zero_()
    spread = attention_spread(vae, clips)
    for name, s in spread.items():
        assert s["effective"] == pytest.approx(s["positions"], rel=1e-4), name
        assert s["largest"] == pytest.approx(1 / s["positions"], rel=1e-4), name
    with torch.no_grad():  # queries and positions that tell the collapsed positions apart
        for name in PLANES:
            project = vae.projection.project[name]
            project.query_bias.normal_(std=3.0), project.position.normal_(std=3.0)
    sharp = attention_spread(vae, clips)
    assert all(sharp[n]["effective"] < 0.9 * sharp[n]["positions"] and sharp[n]["largest"] > 1.5 / sharp[n]["positions"]
               for n in PLANES if sharp[n]["positions"] > 1)


def test_a_pooling_vae_has_no_projection_to_measure(clips):
    vae = HexPlaneVAE(dataclasses.replace(vae_preset("tiny"), projection="average"))
    with pytest.raises(ValueError, match="no learned projection"):
        attention_spread(vae, clips)
