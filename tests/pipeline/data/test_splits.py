"""Seeded, stratified round(0.1·n) hold-out; lesion-grouped split keeps groups whole."""

from __future__ import annotations

from collections import Counter

import numpy as np

from pipeline.data.splits import grouped_split, holdout_split


def test_holdout_takes_round_fraction_per_class_and_is_seeded():
    labels = np.repeat(np.arange(4), [10, 25, 7, 100])
    splits = holdout_split(labels, fraction=0.1, seed=3)
    counts = Counter(labels[splits == "val"].tolist())
    assert counts == {0: round(1.0), 1: round(2.5), 2: round(0.7), 3: 10}
    np.testing.assert_array_equal(splits, holdout_split(labels, fraction=0.1, seed=3))
    assert (splits != holdout_split(labels, fraction=0.1, seed=4)).any()


def test_grouped_split_keeps_every_group_in_one_split(rng):
    groups = [f"lesion{i}" for i in rng.integers(0, 300, size=1000)]
    labels = np.array([hash(g) % 5 for g in groups])  # one class per lesion, as in HAM10000
    splits = grouped_split(labels, groups, fraction=0.1, seed=0)
    by_group = {}
    for g, s in zip(groups, splits, strict=True):
        by_group.setdefault(g, set()).add(s)
    assert all(len(s) == 1 for s in by_group.values())
    assert 0.07 < (splits == "val").mean() < 0.13
    np.testing.assert_array_equal(splits, grouped_split(labels, groups, fraction=0.1, seed=0))
