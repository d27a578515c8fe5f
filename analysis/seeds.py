"""Which runs form the error matrix: the base seeds of each task, not the replicates (issue 13).

A study trains every architecture with its base `seeds` and, when it asks for `replicates`, a few drawn
architectures with extra seeds. The extra runs measure seed noise (analysis/reliability.py); averaging them
into the error matrix would give the replicated architectures a less noisy error than the others, so the
matrix holds the mean of the base seeds only. The base seeds are the study's `seeds` (study.yaml); without a
study.yaml, each task's seeds that every one of its architectures has a run of (any status: a failed base run
must not demote its seed to a replicate). A runs table without a `seed` column (older studies) has no
replicates to tell apart: all its ok runs count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import pandas as pd

SeedSets = dict[str, tuple[int, ...]]


def base_seed_sets(runs: pd.DataFrame, study: Mapping | None = None) -> tuple[SeedSets | None, list[str]]:
    """Per task, the seeds the error matrix averages (module doc), and notes on what was inferred; None when
    runs has no `seed` column."""
    if "seed" not in runs.columns:
        return None, []
    seeds = pd.to_numeric(runs["seed"], errors="coerce")
    table = pd.DataFrame({"task": runs["task"].astype(str), "arch_id": runs["arch_id"], "seed": seeds})
    table = table.dropna(subset=["seed"]).astype({"seed": "int64"})
    given = (study or {}).get("seeds")
    if given:
        base = tuple(sorted({int(s) for s in given}))
        return {str(t): base for t in dict.fromkeys(table["task"])}, []
    out, notes = {}, []
    for task, rows in table.groupby("task", sort=False):
        per_arch = rows.groupby("arch_id")["seed"].agg(frozenset)
        common = frozenset.intersection(*per_arch)
        if not common:  # no seed shared by all: nothing to tell base from replicate, average everything
            common = frozenset(rows["seed"])
            notes.append(
                f"task {task!r}: no seed is shared by all its architectures; without study.yaml every seed "
                f"({', '.join(map(str, sorted(common)))}) is averaged into the error matrix"
            )
        out[str(task)] = tuple(sorted(common))
    return out, notes


def base_runs(ok_runs: pd.DataFrame, seed_sets: SeedSets | None) -> pd.DataFrame:
    """The ok runs whose seed is a base seed of their task (all of them when `seed_sets` is None)."""
    if seed_sets is None:
        return ok_runs
    seeds = pd.to_numeric(ok_runs["seed"], errors="coerce")
    keep = [s in seed_sets.get(t, ()) for t, s in zip(ok_runs["task"], seeds, strict=True)]
    return ok_runs[keep]


def common_base_seeds(seed_sets: SeedSets | None, tasks: list[str]) -> tuple[tuple[int, ...], list[str]]:
    """The base seeds the matrix averages (their number is k of the Spearman–Brown step): the tasks' common
    set, or the most frequent one with a note when the tasks differ; (0,) without seeds."""
    sets = Counter(seed_sets[t] for t in tasks if t in seed_sets) if seed_sets else Counter()
    if not sets:
        return (0,), []
    common = sets.most_common(1)[0][0]
    if len(sets) == 1:
        return common, []
    listed = ", ".join(f"{t}: {len(seed_sets[t])}" for t in tasks if t in seed_sets)
    note = f"tasks average different numbers of base seeds ({listed}); the correction assumes {len(common)}"
    return common, [note]
