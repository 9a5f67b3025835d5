"""Scene distances on sets with known answers: identical sets, shifted sets, covered and missed modes."""

import numpy as np
import pytest

from core.eval.distances import (bootstrap, bootstrap_ratio, frechet_distance, frechet_distance_unbiased, inside_real, kernel_distance,
                                  precision_recall)
from core.types import InputError


@pytest.fixture
def sets():
    rng = np.random.default_rng(0)
    return rng.normal(size=(400, 8)), rng.normal(size=(400, 8))


def test_identical_distributions_are_at_distance_zero(sets):
    real, other = sets
    assert frechet_distance(real, real) == pytest.approx(0, abs=1e-8)
    # the unbiased kernel estimate on two samples of one distribution: ≈ 0 (either sign)
    assert abs(kernel_distance(real, other)) < 0.1 * kernel_distance(real, other + 0.5)


def test_frechet_distance_of_a_shift_is_its_squared_length(sets):
    real, other = sets
    shift = np.array([2.0] + [0.0] * 7)
    assert frechet_distance(real, real + shift) == pytest.approx(4.0, rel=1e-6)
    # two samples of one Gaussian: the plug-in estimate is biased up, FD∞ removes most of it
    plug_in, unbiased = frechet_distance(real, other), frechet_distance_unbiased(real, other)
    assert 0 < plug_in < 0.5 and abs(unbiased) < plug_in


def test_frechet_distance_sees_a_changed_covariance(sets):
    real, other = sets
    # N(0, I) vs N(0, 4I) in 8 dimensions: tr(I + 4I − 2·2I) = 8
    assert frechet_distance_unbiased(real, 2 * other) == pytest.approx(8.0, rel=0.15)


def test_kernel_distance_grows_with_the_gap(sets):
    real, other = sets
    near, far = kernel_distance(real, other + 0.3), kernel_distance(real, other + 1.0)
    assert 0 < near < far and abs(kernel_distance(real, other)) < near


def test_precision_and_recall_see_missed_and_invented_modes():
    rng = np.random.default_rng(1)
    mode_a, mode_b = rng.normal(size=(200, 4)), rng.normal(size=(200, 4)) + 20
    real = np.concatenate([mode_a, mode_b])
    only_a = rng.normal(size=(400, 4))  # covers half the real data, invents nothing
    precision, recall = precision_recall(real, only_a)
    assert precision > 0.9 and 0.4 < recall < 0.6
    invented = np.concatenate([rng.normal(size=(200, 4)), rng.normal(size=(200, 4)) - 20])
    precision, recall = precision_recall(real, invented)
    assert 0.4 < precision < 0.6


def test_bootstrap_interval_holds_the_value(sets):
    real, other = sets
    estimate = bootstrap(frechet_distance, real, other + 1.0, rounds=20)
    assert estimate.low <= estimate.value <= estimate.high and estimate.high - estimate.low < 0.25 * estimate.value
    assert "[" in str(estimate)


def test_bootstrap_interval_is_as_wide_as_new_sets_would_vary():
    """The gap between the means of 64 and of 256 draws from N(0, 1): its 95 % interval is
    ±1.96·√(1/64 + 1/256) and holds the true 0 about 95 % of the time, although the subsets behind it
    share most of their rows (unscaled, it was half as wide and held 0 about 68 % of the time)."""
    rng = np.random.default_rng(3)
    widths, held = [], 0
    for trial in range(40):
        real, fake = rng.normal(size=(256, 1)), rng.normal(size=(64, 1))
        estimate = bootstrap(lambda r, f: float(f.mean() - r.mean()), real, fake, rounds=200, seed=trial)
        widths.append(estimate.high - estimate.low)
        held += estimate.low <= 0.0 <= estimate.high
    assert np.mean(widths) == pytest.approx(2 * 1.96 * np.sqrt(1 / 64 + 1 / 256), rel=0.15) and held >= 33
    assert estimate.low < 0  # a metric's range is unbounded unless given


def test_no_interval_from_two_rows():
    estimate = bootstrap(frechet_distance, np.eye(3), np.eye(3)[:2])
    assert estimate.value >= 0 and np.isnan(estimate.low) and np.isnan(estimate.high)


def test_bootstrap_interval_stays_in_the_metrics_range():
    """Near the ends of a range the spread placed around the value crosses them (both cases below do,
    unclipped: precision up to 1.14, distance down to −0.34); the interval stops at the range."""
    rng = np.random.default_rng(5)
    real = rng.normal(size=(40, 3))
    fake = np.concatenate([real[:11] + 0.01, [[50.0, 50.0, 50.0]]])  # precision 11/12, 1 without the far one
    share = bootstrap(lambda r, f: precision_recall(r, f)[0], real, fake, rounds=20, within=(0.0, 1.0))
    assert share.low <= share.value <= share.high == 1.0
    real, other = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
    assert bootstrap(frechet_distance, real, other, rounds=20).low < 0.0  # unclipped
    close = bootstrap(frechet_distance, real, other, rounds=20, within=(0.0, np.inf))
    assert close.low == 0.0 < close.value


def test_inside_real_marks_each_fake_sample():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(100, 2))
    fake = np.concatenate([rng.normal(size=(10, 2)) * 0.3, rng.normal(size=(5, 2)) + 50])
    inside = inside_real(real, fake)
    assert inside[:10].all() and not inside[10:].any()
    assert precision_recall(real, fake)[0] == pytest.approx(inside.mean())


def test_paired_ratio_is_one_for_one_set_and_sees_a_set_further_away(sets):
    real, other = sets
    same = bootstrap_ratio(frechet_distance, real, other + 1.0, other + 1.0, rounds=20)
    assert (same.value, same.low, same.high) == pytest.approx((1.0, 1.0, 1.0))
    further = bootstrap_ratio(frechet_distance, real, other + 2.0, other + 1.0, rounds=20)  # 4·8 / 1·8 plus the bias
    assert 1.0 < further.low <= further.value <= further.high and further.value == pytest.approx(
        frechet_distance(real, other + 2.0) / frechet_distance(real, other + 1.0))
    with pytest.raises(InputError, match="paired"):
        bootstrap_ratio(frechet_distance, real, other, other[:10])


def test_bad_feature_sets_are_refused(sets):
    real, _ = sets
    with pytest.raises(InputError, match="same F"):
        frechet_distance(real, real[:, :4])
    with pytest.raises(InputError, match="at least"):
        kernel_distance(real, real[:1])
