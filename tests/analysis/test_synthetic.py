"""The synthetic generator: deterministic, and each shape is what its name says."""

from __future__ import annotations

import numpy as np
import pytest

from redline.analysis import synthetic as S


@pytest.mark.parametrize("kind", sorted(S.NOISE))
def test_same_seed_same_series_other_seed_other_series(kind: str) -> None:
    a = S.noise(kind, 200, seed=3)
    assert np.array_equal(a, S.noise(kind, 200, seed=3))
    assert not np.array_equal(a, S.noise(kind, 200, seed=4))
    assert a.shape == (200,) and np.isfinite(a).all()


def test_gaussian_level_and_sigma() -> None:
    y = S.gaussian(20_000, seed=1, level=50.0, sigma=2.0)
    assert abs(y.mean() - 50.0) < 0.1 and abs(y.std() - 2.0) < 0.05


def test_ar1_has_the_asked_autocorrelation_and_marginal_sigma() -> None:
    y = S.ar1(20_000, seed=1, phi=0.5, level=0.0)
    assert abs(np.corrcoef(y[1:], y[:-1])[0, 1] - 0.5) < 0.03
    assert abs(y.std() - 1.0) < 0.05


def test_lognormal_is_right_skewed_around_its_median() -> None:
    y = S.lognormal(20_000, seed=1, level=100.0)
    assert abs(np.median(y) - 100.0) < 2.0 and y.mean() > np.median(y)


def test_outliers_are_rare_and_gross() -> None:
    y = S.outliers(20_000, seed=1, level=0.0, fraction=0.01, size=20.0)
    far = np.abs(y) > 8
    assert 0.007 < far.mean() < 0.013


def test_bimodal_has_a_slow_mode() -> None:
    y = S.bimodal(10_000, seed=1, level=100.0, slow=1.5, slow_fraction=0.2)
    assert 0.17 < (y > 125).mean() < 0.23


def test_step_ramp_variance_spike_shapes() -> None:
    st = S.step(400, at=200, k_sigma=2.0, seed=1, level=0.0)
    assert abs((st[200:].mean() - st[:200].mean()) - 2.0) < 0.3
    rp = S.ramp(400, start=100, end=300, total=10.0, seed=1, level=0.0)
    assert abs(rp[300:].mean() - 10.0) < 0.3 and abs(rp[:100].mean()) < 0.3
    assert abs(rp[190:210].mean() - 5.0) < 0.6
    vc = S.variance_change(4000, at=2000, factor=3.0, seed=1, level=0.0)
    assert abs(vc[2000:].std() / vc[:2000].std() - 3.0) < 0.2
    sp = S.spike(100, at=40, k_sigma=10.0, seed=1, level=0.0)
    assert int(np.argmax(sp)) == 40


def test_with_missing_blanks_runs_and_keeps_the_input() -> None:
    y = S.gaussian(100, seed=1)
    holes = S.with_missing(y, seed=2, runs=3, max_len=4)
    assert np.isfinite(y).all()
    assert 1 <= np.isnan(holes).sum() <= 12
    keep = np.isfinite(holes)
    assert np.array_equal(holes[keep], y[keep])
