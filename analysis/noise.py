"""Seed noise in a study, as the report tabulates it (issue 13): reliabilities, corrected correlations and
differences between proxies, gathered from analysis/reliability.py and analysis/proxy_tests.py.

Replicate runs (seeds beyond the base seeds) enter only here: the reliability of a task is measured on all
its ok runs, and the correction for attenuation scales it to what the error matrix holds, the mean of the k
base seeds (Spearman–Brown). Without replicates, or without a `seed` column, the reliability table is
empty and the corrected columns are NaN; `notes` says why.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.proxy_tests import proxy_differences
from analysis.reliability import corrected_correlations, reliability_table, spearman_brown
from analysis.roles import Roles
from analysis.seeds import SeedSets

CORRECTED = ["spearman_corrected", "spearman_corrected_ci_low", "spearman_corrected_ci_high",
             "corrected_above_1", "rel_a", "rel_b"]  # fmt: skip
NO_SEED_COLUMN = "runs.parquet has no `seed` column, so no seed noise can be measured"
NO_REPLICATES = (
    "no task has 3 or more architectures trained with two or more seeds (study.yaml `replicates:` adds "
    "them), so seed noise is not measured and ρ is not corrected for it"
)


def reliabilities(
    ok_runs: pd.DataFrame, seed_sets: SeedSets | None, *, n_boot: int, seed: int
) -> tuple[pd.DataFrame, list[str]]:
    """reliability_table over all ok runs, plus base_seeds (k, the base seeds of the task) and
    matrix_reliability (the Spearman–Brown reliability of their mean); a note when nothing is measured."""
    if seed_sets is None:
        table = reliability_table(ok_runs.iloc[:0].assign(seed=0), n_boot=0)
        notes = [NO_SEED_COLUMN]
    else:
        table = reliability_table(ok_runs, n_boot=n_boot, seed=seed)
        notes = [] if len(table) else [NO_REPLICATES]
    k = [len(seed_sets.get(t, (0,))) if seed_sets else 1 for t in table["task"]]
    table["base_seeds"] = np.array(k, dtype=np.int64)
    rel = table["seed_spearman"].to_numpy(float)
    table["matrix_reliability"] = np.array([spearman_brown(r, n) for r, n in zip(rel, k, strict=True)], float)
    return table, notes


def with_corrected(
    correlations: pd.DataFrame,
    matrix: pd.DataFrame,
    ok_runs: pd.DataFrame,
    base_seeds: Sequence[int],
    reliability: pd.DataFrame,
    *,
    n_boot: int,
    seed: int,
) -> pd.DataFrame:
    """`correlations` with the CORRECTED columns of corrected_correlations merged on (task_a, task_b); NaN
    (and corrected_above_1 null) where a task of the pair has no reliability."""
    if len(reliability):
        corrected = corrected_correlations(matrix, ok_runs, base_seeds, n_boot=n_boot, seed=seed)
        out = correlations.merge(corrected, on=["task_a", "task_b"], how="left", validate="one_to_one")
    else:
        out = correlations.assign(**{c: np.nan for c in CORRECTED})
    above = out["corrected_above_1"].astype("boolean")
    out["corrected_above_1"] = above.mask(out["spearman_corrected"].isna())
    return out


def differences(matrix: pd.DataFrame, roles: Roles, *, n_boot: int, seed: int) -> pd.DataFrame:
    """proxy_differences of every target over its candidate sources: the reference, then every proxy."""
    sources = [s for s in (roles.reference, *roles.proxies) if s is not None]
    return proxy_differences(matrix, {t: sources for t in roles.targets}, n_boot=n_boot, seed=seed)
