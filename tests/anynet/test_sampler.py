"""The vectorised sampler: in band, in the space, no duplicates, seeded, and the draw distribution."""

from __future__ import annotations

import numpy as np
import pytest

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
    # P(d = k) = log((k + 1) / k) / log(17): the mass of [k, k + 1) on the log scale
    for k in (1, 2, 8, 16):
        expected = np.log((k + 1) / k) / np.log(17)
        assert np.mean(d == k) == pytest.approx(expected, abs=0.006)
    assert np.mean(w <= 64) == pytest.approx(np.log(72 / 8) / np.log(1032 / 8), abs=0.006)
    assert np.mean(b == 2) == pytest.approx(1 / 3, abs=0.006)


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
        ({"flops_range": (400e6, 360e6)}, "must satisfy 0 <= lo < hi"),
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
