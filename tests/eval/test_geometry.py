"""Connected components and blobs of bird's-eye masks."""

import numpy as np
from hypothesis import given, settings, strategies as st

from core.eval.geometry import blobs, components


def _flood_count(mask: np.ndarray) -> int:
    seen, count = np.zeros_like(mask), 0
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        count, stack = count + 1, [start]
        while stack:
            x, y = stack.pop()
            if 0 <= x < mask.shape[0] and 0 <= y < mask.shape[1] and mask[x, y] and not seen[x, y]:
                seen[x, y] = True
                stack += [(x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)]
    return count


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.1, 0.7))
def test_components_match_a_flood_fill(seed, density):
    mask = np.random.default_rng(seed).random((12, 15)) < density
    labels, count = components(mask)
    assert count == _flood_count(mask)
    assert set(np.unique(labels[mask])) == set(range(1, count + 1)) and (labels[~mask] == 0).all()


def test_blobs_give_centre_size_and_axis():
    mask = np.zeros((20, 20), bool)
    mask[4:6, 2:10] = True  # a bar along y
    mask[15, 15] = True
    found = blobs(mask, min_cells=2)
    assert len(found) == 1
    bar = found[0]
    assert bar.cells == 16 and np.allclose(bar.center, [4.5, 5.5]) and abs(abs(bar.axis_angle) - np.pi / 2) < 1e-6
