"""Bird's-eye marks projected onto the padded rollout: which plane cells see them."""

import torch

from core.models.embedders import rollout_footprint
from core.models.hexplane import padding_mask, unroll

SIZES = (2, 4, 4, 3)  # T', X', Y', Z' of the latent


def test_a_marked_cell_is_seen_by_its_row_column_and_frame_on_every_plane():
    marked = torch.zeros(1, 4, 8, 8, dtype=torch.bool)  # T = 4 frames of 8 × 8 cells: pooled by 2
    marked[0, 3, 5, 2] = True  # frame 3 (latent frame 1), x 5 (latent 2), y 2 (latent 1)
    seen = rollout_footprint(marked, SIZES)
    assert seen.shape[:2] == (1, 1) and seen.dtype == torch.bool
    planes = unroll(seen.float(), SIZES)
    expected_xy = torch.zeros(4, 4)
    expected_xy[2, 1] = 1
    assert torch.equal(planes.xy[0, 0], expected_xy)
    assert torch.equal(planes.xz[0, 0].bool(), (torch.arange(4) == 2)[:, None].expand(4, 3))
    assert torch.equal(planes.yz[0, 0].bool(), (torch.arange(4) == 1)[:, None].expand(4, 3))
    assert torch.equal(planes.tx[0, 0].bool(), (torch.arange(2) == 1)[:, None] & (torch.arange(4) == 2)[None])
    assert torch.equal(planes.ty[0, 0].bool(), (torch.arange(2) == 1)[:, None] & (torch.arange(4) == 1)[None])
    assert torch.equal(planes.tz[0, 0].bool(), (torch.arange(2) == 1)[:, None].expand(2, 3))
    assert not (seen[0, 0] & padding_mask(SIZES)).any()  # padding cells see nothing


def test_nothing_marked_sees_nothing():
    assert not rollout_footprint(torch.zeros(2, 4, 8, 8, dtype=torch.bool), SIZES).any()
