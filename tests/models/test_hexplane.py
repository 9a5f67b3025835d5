"""Padded Rollout: exact inverse and padding mask, for many grid sizes."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core.models.hexplane import HexPlane, padding_mask, rollout, rollout_shape, unroll

sizes = st.tuples(*(st.integers(1, 9) for _ in range(4)))


def random_hexplane(sizes, batch=2, channels=3, seed=0):
    t, x, y, z = sizes
    g = torch.Generator().manual_seed(seed)
    shapes = {"xy": (x, y), "xz": (x, z), "yz": (y, z), "tx": (t, x), "ty": (t, y), "tz": (t, z)}
    return HexPlane(**{n: torch.randn(batch, channels, *s, generator=g) for n, s in shapes.items()})


@settings(max_examples=40, deadline=None)
@given(sizes)
def test_unroll_inverts_rollout(sizes):
    hexplane = random_hexplane(sizes)
    rolled = rollout(hexplane)
    assert rolled.shape == (2, 3, *rollout_shape(sizes))
    back = unroll(rolled, sizes)
    for name, plane in hexplane.planes().items():
        assert torch.equal(back.planes()[name], plane), name
    assert torch.equal(rollout(back), rolled)


@settings(max_examples=40, deadline=None)
@given(sizes)
def test_padding_mask_marks_exactly_the_empty_cells(sizes):
    t, x, y, z = sizes
    mask = padding_mask(sizes)
    assert int((~mask).sum()) == x * y + x * z + y * z + t * x + t * y + t * z
    ones = HexPlane(**{n: torch.ones_like(p) for n, p in random_hexplane(sizes, 1, 1).planes().items()})
    assert torch.equal(rollout(ones)[0, 0] == 0, mask)


def test_layout_matches_the_paper():
    t, x, y, z = 2, 5, 4, 3
    hexplane = random_hexplane((t, x, y, z), batch=1, channels=1)
    rolled = rollout(hexplane)[0, 0]
    assert torch.equal(rolled[:x, :y], hexplane.xy[0, 0])
    assert torch.equal(rolled[:x, y + z:], hexplane.tx[0, 0].T)
    assert torch.equal(rolled[x + t:, :y], hexplane.yz[0, 0].T)
    assert torch.equal(rolled[x:x + t, y:y + z], hexplane.tz[0, 0])
