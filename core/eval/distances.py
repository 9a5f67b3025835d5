"""Distances between two sets of scene features: Fréchet, kernel, precision / recall, with bootstrap CIs.

- Fréchet scene distance (FSD): the Fréchet distance of Gaussians fitted to the two sets (as FID).
  Its plug-in estimate is biased upwards by about c/N; `frechet_distance_unbiased` fits FD against
  1/N over subsets and extrapolates to 1/N = 0 (FD∞, Chong & Forsyth 2020).
- Kernel scene distance (KSD): unbiased MMD² with the cubic polynomial kernel (as KID), scaled ×100.
- Precision / recall: the k-nearest-neighbour manifold estimate of Kynkäänniemi et al. (2019).
- `bootstrap`: an interval of any of them from random subsets of both sets (their spread scaled to a
  whole set's);
  `bootstrap_ratio`: the same for the ratio of one metric on two paired generated sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.types import InputError


def _check(real: np.ndarray, fake: np.ndarray, minimum: int = 2) -> None:
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise InputError(f"feature sets must be (N, F) with the same F, got {real.shape} and {fake.shape}")
    if min(len(real), len(fake)) < minimum:
        raise InputError(f"each feature set needs at least {minimum} samples, got {len(real)} and {len(fake)}")


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½), the plug-in estimate."""
    _check(real, fake)
    mean_gap = real.mean(0) - fake.mean(0)
    cov_real, cov_fake = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    root = _sqrt_psd(cov_real)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ cov_fake @ root), 0, None)).sum()
    return float(mean_gap @ mean_gap + np.trace(cov_real) + np.trace(cov_fake) - 2 * cross)


def frechet_distance_unbiased(real: np.ndarray, fake: np.ndarray, *, points: int = 5, seed: int = 0) -> float:
    """FD∞: the plug-in FD at subset sizes N/2..N, fitted linearly in 1/N and read at 1/N = 0."""
    _check(real, fake, minimum=8)
    rng = np.random.default_rng(seed)
    size = min(len(real), len(fake))
    sizes = np.linspace(size // 2, size, points).astype(int)
    values = [frechet_distance(real[rng.choice(len(real), n, replace=False)], fake[rng.choice(len(fake), n, replace=False)])
              for n in sizes]
    slope, intercept = np.polyfit(1.0 / sizes, values, 1)
    return float(intercept)


def kernel_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """Unbiased MMD² × 100 with k(x, y) = (x·y / F + 1)³."""
    _check(real, fake)
    features = real.shape[1]

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a @ b.T / features + 1.0) ** 3

    m, n = len(real), len(fake)
    k_rr, k_ff, k_rf = kernel(real, real), kernel(fake, fake), kernel(real, fake)
    within_real = (k_rr.sum() - np.trace(k_rr)) / (m * (m - 1))
    within_fake = (k_ff.sum() - np.trace(k_ff)) / (n * (n - 1))
    return float(100 * (within_real + within_fake - 2 * k_rf.mean()))


def _gaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances of every row of `a` to every row of `b`, through one matrix product."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T
    return np.sqrt(np.clip(squared, 0, None))


def _radii(points: np.ndarray, k: int) -> np.ndarray:
    """Distance of each point to its k-th nearest other point of the same set."""
    gaps = _gaps(points, points)
    np.fill_diagonal(gaps, 0.0)  # the point itself, exactly
    return np.sort(gaps, axis=1)[:, k]  # column 0 is the point itself


def _inside(queries: np.ndarray, points: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Per query: whether it lies within some point's radius (the k-NN manifold of `points`)."""
    return (_gaps(queries, points) <= radii[None]).any(axis=1)


def inside_real(real: np.ndarray, fake: np.ndarray, *, k: int = 3) -> np.ndarray:
    """Per fake sample: whether it lies inside the real manifold; precision is their mean."""
    _check(real, fake, minimum=k + 1)
    return _inside(fake, real, _radii(real, k))


def precision_recall(real: np.ndarray, fake: np.ndarray, *, k: int = 3) -> tuple[float, float]:
    """(precision, recall): shares of fake samples inside the real manifold and of real inside the fake."""
    _check(real, fake, minimum=k + 1)
    return float(inside_real(real, fake, k=k).mean()), float(_inside(real, fake, _radii(fake, k)).mean())


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def bootstrap(metric: Callable[[np.ndarray, np.ndarray], float], real: np.ndarray, fake: np.ndarray, *,
              rounds: int = 50, level: float = 0.95, fraction: float = 0.8, seed: int = 0,
              within: tuple[float, float] = (-np.inf, np.inf)) -> Estimate:
    """The metric on the full sets, with an interval from the metric on `rounds` random subsets of both.

    Subsets are drawn without replacement (`fraction` of each set): resampling with replacement would
    put duplicates in the sets, which the k-NN radii and the unbiased kernel estimate cannot take.
    Subsets of m of n rows that share most of their rows vary less than whole new sets would, by a
    factor of √((n − m) / m) (half at 4/5; the delete-d jackknife, Shao & Wu 1989), so the spread of
    the subset values about their median is scaled up by its inverse (m and n of `fake`, the smaller
    set). A plug-in estimate such as the Fréchet distance is biased by the set size, so that spread is
    placed around the full-set value, and clipped to the metric's range `within`.
    """
    return _over_subsets(lambda r, f: metric(real[r], fake[f]), len(real), len(fake),
                         rounds=rounds, level=level, fraction=fraction, seed=seed, within=within)


def bootstrap_ratio(metric: Callable[[np.ndarray, np.ndarray], float], real: np.ndarray, numerator: np.ndarray,
                    denominator: np.ndarray, *, rounds: int = 50, level: float = 0.95, fraction: float = 0.8,
                    seed: int = 0) -> Estimate:
    """metric(real, numerator) / metric(real, denominator), with an interval as `bootstrap`'s.

    The two generated sets are paired, row i of each made for the same request and seed, so every
    subset takes the same rows of both: the interval is the spread from which requests were asked,
    not from two unrelated draws.
    """
    if numerator.shape != denominator.shape:
        raise InputError(f"paired feature sets must have the same shape, got {numerator.shape} and {denominator.shape}")
    return _over_subsets(lambda r, f: metric(real[r], numerator[f]) / max(metric(real[r], denominator[f]), 1e-12),
                         len(real), len(numerator), rounds=rounds, level=level, fraction=fraction, seed=seed,
                         within=(0.0, np.inf))


def _over_subsets(statistic: Callable[[np.ndarray, np.ndarray], float], real: int, fake: int, *,
                  rounds: int, level: float, fraction: float, seed: int, within: tuple[float, float]) -> Estimate:
    """`statistic` of (real rows, fake rows) on all rows, with the interval of `bootstrap`."""
    rng = np.random.default_rng(seed)

    def rows(size: int) -> int:  # at least 2, and at least one row left out
        return min(size - 1, max(2, int(fraction * size)))

    if min(real, fake) < 3:  # subsets of two rows of three at least: no interval from fewer
        return Estimate(statistic(np.arange(real), np.arange(fake)), np.nan, np.nan)
    samples = np.array([statistic(rng.choice(real, rows(real), replace=False), rng.choice(fake, rows(fake), replace=False))
                        for _ in range(rounds)])
    value, middle, tail = statistic(np.arange(real), np.arange(fake)), float(np.median(samples)), 100 * (1 - level) / 2
    spread = np.sqrt(rows(fake) / (fake - rows(fake)))  # a subset's spread → a whole set's (see `bootstrap`)
    low = value - spread * (middle - float(np.percentile(samples, tail)))
    high = value + spread * (float(np.percentile(samples, 100 - tail)) - middle)
    return Estimate(value, max(low, within[0]), min(high, within[1]))
