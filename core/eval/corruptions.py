"""Corruptions of real scenes that the feature network learns to recognise.

A network trained only to describe real scenes maps scenes unlike any it saw (noisy, flickering,
temporally scrambled) onto ordinary-looking features, and a scene distance on such features cannot
see what a weak generator gets wrong. So half of its training scenes are corrupted in one of the ways
generators fail, and it learns which corruption and how strong: its features then move when a scene
has these defects. Each corruption takes a (T, X, Y, Z) label array and a strength in (0, 1].
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from core.data.palette import PALETTE

MOVERS = tuple(PALETTE.class_id(name) for name in ("vehicle", "pedestrian"))
SOLID = tuple(c for c in range(1, 11) if c not in MOVERS)


def voxel_noise(labels: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Up to 5 % of the occupied voxels take a random class; as many free voxels near the ground fill."""
    out = labels.copy()
    occupied = out > 0
    flip = occupied & (rng.random(out.shape) < 0.05 * strength)
    out[flip] = rng.integers(1, 11, int(flip.sum()))
    low = np.zeros(out.shape, bool)
    low[..., :3] = True
    fill = ~occupied & low & (rng.random(out.shape) < 0.01 * strength)
    out[fill] = rng.choice(SOLID, int(fill.sum()))
    return out


def frame_shuffle(labels: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Swap up to T/2 random pairs of frames."""
    order = np.arange(len(labels))
    for _ in range(max(1, int(strength * len(labels) / 2))):
        a, b = rng.choice(len(labels), 2, replace=False)
        order[[a, b]] = order[[b, a]]
    return labels[order]


def freeze(labels: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A run of up to 3/4 of the frames repeats one frame: everything stops, then jumps."""
    frames = len(labels)
    span = max(2, int(strength * 0.75 * frames))
    start = int(rng.integers(0, frames - span + 1))
    out = labels.copy()
    out[start: start + span] = labels[start]
    return out


def coarsen(labels: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Blocky detail: a share of the frames keeps only every second x / y cell (each 2×2 takes its corner)."""
    out = labels.copy()
    picked = rng.random(len(labels)) < max(strength, 1 / len(labels))
    blocky = np.repeat(np.repeat(labels[:, ::2, ::2], 2, axis=1), 2, axis=2)[:, : labels.shape[1], : labels.shape[2]]
    out[picked] = blocky[picked]
    return out


def class_swap(labels: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """In a random box of up to half the grid, one solid class becomes another."""
    out = labels.copy()
    a, b = rng.choice(SOLID, 2, replace=False)
    size = (np.array(labels.shape[1:3]) * (0.2 + 0.5 * strength)).astype(int)
    corner = [int(rng.integers(0, n - s + 1)) for n, s in zip(labels.shape[1:3], size)]
    box = out[:, corner[0]: corner[0] + size[0], corner[1]: corner[1] + size[1]]
    box[box == a] = b
    return out


def vanish(labels: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Vehicles and pedestrians disappear in a share of the frames (they pop out and back in)."""
    out = labels.copy()
    picked = rng.random(len(labels)) < max(strength * 0.6, 1 / len(labels))
    frames = out[picked]
    frames[np.isin(frames, MOVERS)] = 0
    out[picked] = frames
    return out


CORRUPTIONS: dict[str, Callable[[np.ndarray, float, np.random.Generator], np.ndarray]] = {
    "noise": voxel_noise, "shuffle": frame_shuffle, "freeze": freeze, "coarsen": coarsen, "swap": class_swap,
    "vanish": vanish,
}
NAMES = ("none", *CORRUPTIONS)  # class index 0 = a clean scene


def corrupt(labels: np.ndarray, rng: np.random.Generator, *, clean_share: float = 0.5) -> tuple[np.ndarray, int, float]:
    """A clean scene (kind 0, strength 0) with probability `clean_share`, else one random corruption."""
    if rng.random() < clean_share:
        return labels, 0, 0.0
    kind = int(rng.integers(1, len(NAMES)))
    strength = float(rng.uniform(0.2, 1.0))
    return CORRUPTIONS[NAMES[kind]](labels, strength, rng), kind, strength
