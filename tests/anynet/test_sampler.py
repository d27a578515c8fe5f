"""The vectorised sampler: in band, in the space, no duplicates, seeded, and the draw distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from anynet import Arch, complexity, flops_bounds, sample_archs, sampler
from anynet.sampler import draw_archs

STAGE_ARRAYS = ("depths", "widths", "bottleneck_ratios", "group_widths")


@pytest.fixture(scope="module")
def sample():
    return sample_archs(300, seed=0)


def test_sample_lies_in_band_and_in_space(sample):
    assert len(sample) == sample.accepted == 300 and sample.strides == (1, 2, 2, 2)
    assert np.all((sample.flops >= 360_000_000) & (sample.flops <= 400_000_000))
    w, b, g = sample.widths, sample.bottleneck_ratios, sample.group_widths
    assert np.all((sample.depths >= 1) & (sample.depths <= 16))
    assert np.all((w >= 1) & (w <= 1024)) and np.all(np.isin(b, (1, 2, 4)))
    assert np.all((g >= 1) & (g <= 32)) and np.all(w % b == 0) and np.all((w // b) % g == 0)
    archs = sample.archs()  # every row is a valid Arch (validation would raise)
    for i in range(0, 300, 15):
        expected = {"flops": sample.flops[i], "params": sample.params[i], "acts": sample.acts[i]}
        assert complexity(archs[i]) == expected


def test_no_duplicates_after_adjustment(sample):
    rows = np.concatenate([getattr(sample, k) for k in STAGE_ARRAYS], axis=1)
    assert len(np.unique(rows, axis=0)) == len(rows)


def test_duplicates_are_removed(sample, monkeypatch):
    # draws that cycle through three in-band architectures: only three distinct ones exist to keep
    three = [getattr(sample, k)[:3] for k in STAGE_ARRAYS]

    def cycling_draws(uniforms):
        picks = np.arange(len(uniforms)) % 3
        return tuple(a[picks] for a in three)

    monkeypatch.setattr(sampler, "draw_archs", cycling_draws)
    got = sample_archs(3, seed=0, batch=10)
    assert (got.draws, got.in_band, got.accepted) == (3, 3, 3)
    assert np.array_equal(got.widths, sample.widths[:3])
    with pytest.raises(RuntimeError, match="only 3 of 4 architectures found in 100 draws"):
        sample_archs(4, seed=0, batch=10, max_draws=100)


def test_same_seed_same_sample_whatever_the_batch(sample):
    again = sample_archs(300, seed=0, batch=777)
    for name in (*STAGE_ARRAYS, "flops", "params", "acts"):
        assert np.array_equal(getattr(sample, name), getattr(again, name)), name
    assert (again.draws, again.in_band) == (sample.draws, sample.in_band)
    other = sample_archs(300, seed=1)
    assert not np.array_equal(other.widths, sample.widths)
    # a longer sample starts with the shorter one
    assert np.array_equal(sample_archs(50, seed=0).widths, sample.widths[:50])


def test_counts(sample):
    assert sample.draws > sample.in_band >= sample.accepted
    assert 0 < sample.acceptance_rate < 0.2


def test_other_strides_and_band():
    regnet_like = sample_archs(20, seed=5, flops_range=(700e6, 900e6), strides=(2, 2, 2, 2))
    assert np.all((regnet_like.flops >= 700e6) & (regnet_like.flops <= 900e6))
    assert all(a.strides == (2, 2, 2, 2) for a in regnet_like.archs())
    assert regnet_like.archs()[0] == Arch(
        regnet_like.depths[0],
        regnet_like.widths[0],
        regnet_like.bottleneck_ratios[0],
        regnet_like.group_widths[0],
        strides=(2, 2, 2, 2),
    )


def test_draws_are_log_uniform_over_the_integer_ranges(rng):
    d, w, b, g = draw_archs(rng.random((100_000, 16)))
    assert set(np.unique(d)) == set(range(1, 17)) and set(np.unique(g)) == set(range(1, 33))
    assert set(np.unique(w)) == set(range(8, 1025, 8)) and set(np.unique(b)) == {1, 2, 4}
    # pycls: x in (0.5, 16] log-uniformly, rounded up, so P(d = 1) = log(1 / 0.5) / log(16 / 0.5) and
    # P(d = k) = log(k / (k - 1)) / log 32 for k >= 2
    assert np.mean(d == 1) == pytest.approx(np.log(2) / np.log(32), abs=0.006)
    for k in (2, 8, 16):
        assert np.mean(d == k) == pytest.approx(np.log(k / (k - 1)) / np.log(32), abs=0.006)
    # widths: x in (4, 1024], so P(w <= 64) = log(64 / 4) / log(1024 / 4) = 1/2; group widths: (0.5, 32]
    assert np.mean(w == 8) == pytest.approx(np.log(2) / np.log(256), abs=0.006)
    assert np.mean(w <= 64) == pytest.approx(0.5, abs=0.006)
    assert np.mean(g == 1) == pytest.approx(np.log(2) / np.log(64), abs=0.006)
    assert np.mean(b == 2) == pytest.approx(1 / 3, abs=0.006)


def _pycls_log_uniform(state: np.random.RandomState, lo: int, hi: int, q: int) -> int:
    """One draw of pycls/sweep/random.py's rule: f in (lo - min(q, lo/2), hi] log-uniformly, ceil to q."""
    f = math.exp(-state.uniform(-math.log(hi), -math.log(lo - min(q, lo / 2))))
    return math.ceil(f / q) * q


# (column of draw_archs' output, lo, hi, q)
RANGES = {"depths": (0, 1, 16, 1), "widths": (1, 8, 1024, 8), "group_widths": (3, 1, 32, 1)}


@pytest.mark.parametrize("name", list(RANGES))
def test_each_coordinate_has_pycls_frequencies(name):
    column, lo, hi, q = RANGES[name]
    state = np.random.RandomState(2024)
    reference = np.array([_pycls_log_uniform(state, lo, hi, q) for _ in range(40_000)])
    ours = draw_archs(np.random.default_rng(2024).random((10_000, 16)))[column].ravel()  # 4 stages each
    values = np.arange(lo, hi + 1, q)
    freq_ref = (reference[:, None] == values).mean(axis=0)
    freq_ours = (ours[:, None] == values).mean(axis=0)
    assert np.isin(reference, values).all() and np.isin(ours, values).all()  # only values of the range
    # 40,000 draws each: a frequency's standard error is at most sqrt(2 · 0.25 / 40,000) = 0.0035; the old
    # round-down rule is off by 0.04 (w = 16) to 0.056 (d = 2) at its worst value
    assert np.abs(freq_ours - freq_ref).max() < 0.012
    counts = np.stack([freq_ref, freq_ours]) * 40_000
    assert scipy.stats.chi2_contingency(counts[:, counts.sum(axis=0) > 0]).pvalue > 1e-3


def test_same_uniforms_give_pycls_values_draw_for_draw():
    # numpy's uniform(a, b) is a + (b - a)·u on the generator's next double: feed both the same doubles
    n = 5000
    u = np.random.RandomState(7).random_sample((n, 16))
    d, w, _, g = draw_archs(u)
    state = np.random.RandomState(7)
    for i in range(n):
        for j in range(16):
            stage, row = j % 4, j // 4
            if row == 2:  # bottleneck ratio: drawn by another rule
                state.random_sample()
                continue
            lo, hi, q = RANGES[("depths", "widths", None, "group_widths")[row]][1:]
            value = _pycls_log_uniform(state, lo, hi, q)
            assert (d, w, None, g)[row][i, stage] == value, (i, j)


def test_flops_bounds_are_the_corners():
    lo, hi = flops_bounds()
    smallest = Arch((1,) * 4, (8,) * 4, (4,) * 4, (1,) * 4)
    largest = Arch((16,) * 4, (1024,) * 4, (1,) * 4, (32,) * 4)
    assert (lo, hi) == (complexity(smallest)["flops"], complexity(largest)["flops"])


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"n": 0}, "n=0 must be a positive integer"),
        ({"seed": -1}, "seed=-1 must be a non-negative integer"),
        ({"flops_range": (400e6, 360e6)}, "must be finite with 0 <= lo < hi"),
        ({"flops_range": "x"}, "must be two numbers"),
        ({"strides": (1, 2, 2)}, "must be 4 values, each 1 or 2"),
        ({"flops_range": (1e6, 2e6)}, "no architecture has flops in [1, 2] MF"),
        ({"flops_range": (1e15, 2e15)}, "the space spans 15.9544..642573 MF"),
    ],
)
def test_bad_arguments(kwargs, needle):
    with pytest.raises(ValueError) as info:
        sample_archs(**{"n": 5, "seed": 0, **kwargs})
    assert needle in str(info.value)


def test_gives_up_after_max_draws():
    with pytest.raises(RuntimeError, match=r"only \d+ of 5 architectures found in 1,000 draws"):
        sample_archs(5, seed=0, flops_range=(399_999_000, 400_000_000), max_draws=1000, batch=300)
