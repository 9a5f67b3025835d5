"""Small numpy geometry for the evaluation: connected components of bird's-eye masks and their centres.

No scipy here: components are found by propagating the smallest index through 4-neighbours until
nothing changes, which for the grids we evaluate (≤ 256² cells) takes a few milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of an (X, Y) bool mask: (X, Y) int labels (0 = background, 1..n), n."""
    big = mask.size + 1
    labels = np.where(mask, np.arange(1, mask.size + 1).reshape(mask.shape), big)
    while True:
        padded = np.pad(labels, 1, constant_values=big)
        neighbours = np.minimum.reduce([padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:], labels])
        spread = np.where(mask, neighbours, big)
        if np.array_equal(spread, labels):
            break
        labels = spread
    roots, dense = np.unique(labels[mask], return_inverse=True)
    out = np.zeros(mask.shape, np.int64)
    out[mask] = dense + 1
    return out, len(roots)


@dataclass(frozen=True)
class Blob:
    """One component: its centre (cell row, column as floats), size in cells and its main-axis angle."""

    center: np.ndarray  # (2,) float, cell coordinates (x index, y index)
    cells: int
    axis_angle: float  # radians, of the principal axis in (x, y) cell axes, in (-π/2, π/2]


def blobs(mask: np.ndarray, *, min_cells: int = 1) -> list[Blob]:
    """The components of an (X, Y) mask with at least `min_cells` cells, as Blobs."""
    labels, count = components(mask)
    found = []
    for index in range(1, count + 1):
        xs, ys = np.nonzero(labels == index)
        if len(xs) < min_cells:
            continue
        points = np.stack([xs, ys], axis=1).astype(np.float64)
        center = points.mean(axis=0)
        spread = np.cov((points - center).T) if len(xs) > 1 else np.eye(2)
        values, vectors = np.linalg.eigh(spread)
        main = vectors[:, np.argmax(values)]
        angle = float(np.arctan2(main[1], main[0]))
        angle = angle - np.pi if angle > np.pi / 2 else angle + np.pi if angle <= -np.pi / 2 else angle
        found.append(Blob(center, len(xs), angle))
    return found
