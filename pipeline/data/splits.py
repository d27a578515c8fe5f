"""Train/val splits: the official one where a dataset has it, else a seeded, stored, stratified hold-out.

T22's split tool moved round(0.1·n) random files per class from train to val without seeding its RNG, so
its split cannot be reproduced (STUDY.md §3). Ours draws the same amount per class with a recorded seed:

- `holdout`: per class (in class order), a permutation from `numpy.random.default_rng(seed)` of that
  class's rows (in store order); the first round(fraction·n_c) go to val (Python's round, half to even).
- `grouped`: the same, but over groups (HAM10000 `lesion_id`): a group's images stay together. Groups of a
  class are taken in shuffled order while adding one brings the class's val count closer to
  round(fraction·n_c), so the val share is near, not exactly, the fraction. A group's class is its most
  frequent label.

The policy, seed and fraction go into `meta["split"]`, and so into the store fingerprint.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from pipeline.errors import DatasetError


def split_meta(policy: str, *, seed: int | None = None, fraction: float | None = None) -> dict[str, Any]:
    """The `meta["split"]` record of a policy."""
    if policy == "official":
        return {"policy": "official"}
    meta: dict[str, Any] = {"policy": policy, "seed": int(seed or 0), "fraction": float(fraction or 0.1)}
    if policy == "grouped":
        meta["group"] = "lesion_id"
    return meta


def holdout_split(labels: Sequence[int] | np.ndarray, *, fraction: float = 0.1, seed: int = 0) -> np.ndarray:
    """ "train"/"val" per row: round(fraction·n_c) rows of every class c to val, drawn with `seed`."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    splits = np.full(len(labels), "train", dtype=object)
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        splits[rng.permutation(rows)[: round(fraction * len(rows))]] = "val"
    return splits


def grouped_split(
    labels: Sequence[int] | np.ndarray, groups: Sequence[str], *, fraction: float = 0.1, seed: int = 0
) -> np.ndarray:
    """Like `holdout_split`, but every group lands wholly in train or wholly in val."""
    labels = np.asarray(labels)
    if len(groups) != len(labels) or any(g is None for g in groups):
        raise DatasetError("a grouped split needs a group (e.g. lesion_id) for every image")
    members: dict[str, list[int]] = {}
    for row, group in enumerate(groups):
        members.setdefault(group, []).append(row)
    group_class = {g: Counter(labels[rows].tolist()).most_common(1)[0][0] for g, rows in members.items()}
    rng = np.random.default_rng(seed)
    splits = np.full(len(labels), "train", dtype=object)
    for c in np.unique(labels):
        names = sorted(g for g, k in group_class.items() if k == c)
        target = round(fraction * sum(len(members[g]) for g in names))
        count = 0
        for i in rng.permutation(len(names)):
            size = len(members[names[i]])
            if abs(count + size - target) < abs(count - target):
                splits[members[names[i]]] = "val"
                count += size
    return splits


def assign_splits(
    labels: Sequence[int] | np.ndarray,
    official: Sequence[str | None],
    groups: Sequence[str | None],
    split: dict[str, Any],
) -> np.ndarray:
    """The split of every row under a catalogue split policy (`split` as in `DatasetEntry.split`)."""
    policy = split["policy"]
    if policy == "official":
        values = np.asarray(official, dtype=object)
        if any(v not in ("train", "val") for v in values):
            raise DatasetError("this dataset's reader gives no official split; use split policy 'holdout'")
        return values
    if policy == "grouped":
        return grouped_split(labels, list(groups), fraction=split["fraction"], seed=split["seed"])
    return holdout_split(labels, fraction=split["fraction"], seed=split["seed"])
