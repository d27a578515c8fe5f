"""Zero-cost predictors against trained errors: does a free score rank a task's architectures (issue 14)?

Sign. Every predictor's score is "higher = predicted better" (analysis/inputs.py); a better architecture has
a lower error. The agreement is therefore ρ(score, −error): a predictor that ranks like training has ρ > 0,
one that ranks backwards ρ < 0, whatever the predictor. For params and flops "bigger is better" is the
stored convention, so their ρ says how far size alone ranks like training.

Scores of a task are compared with that task's own trained errors (the error matrix: mean of the base
seeds), over the architectures having both. A score of -inf (a degenerate batch) ranks below every finite
score and +inf above, ties among themselves; NaN (not computable) leaves the architecture out of that
predictor's n. The CI is the percentile bootstrap of analysis/correlation.py over the task's architectures,
one resample shared by all predictors (reliability.spearman_draws). `versus_trained` asks per target
whether its best trained source ranks it distinguishably better than its best predictor, with the dependent-
correlation test of analysis/proxy_tests.py: both are correlated with the same target errors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis.correlation import percentile_ci, resample_counts
from analysis.proxy_tests import proxy_differences
from analysis.reliability import blocks, check_bootstrap, spearman_draws
from analysis.wording import verdict

AGREEMENT_COLUMNS = [
    "task", "predictor", "spearman", "spearman_ci_low", "spearman_ci_high", "n", "verdict", "seconds",
    "hours", "cost_fraction",
]  # fmt: skip
VERSUS_COLUMNS = [
    "target", "trained", "predictor", "rho_trained", "rho_zero_cost", "delta", "ci_low", "ci_high", "p_value",
    "n",
]  # fmt: skip


def rankable(scores: np.ndarray) -> np.ndarray:
    """Scores with -inf/+inf moved just below/above the finite ones (same ranks), NaN kept as absent."""
    scores = np.asarray(scores, dtype=float).copy()
    finite = scores[np.isfinite(scores)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    scores[scores == -np.inf] = low - 1
    scores[scores == np.inf] = high + 1
    return scores


def agreement_table(
    scores: pd.DataFrame,
    matrix: pd.DataFrame,
    costs: pd.DataFrame | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """One row per (task, predictor) of `scores` (analysis.inputs.check_zero_cost) whose task is a column of
    `matrix`: ρ(score, −error) with CI, n, its verdict (analysis/wording.py); seconds = total scoring time
    of the task's architectures, hours = seconds / 3600, cost_fraction = hours / the task's trained
    gpu_hours from `costs` (NaN without). Columns: AGREEMENT_COLUMNS."""
    check_bootstrap(n_boot, level)
    rng = np.random.default_rng(seed)
    trained = {} if costs is None else costs.set_index("task")["gpu_hours"].to_dict()
    rows = []
    for task, group in scores.groupby("task", sort=False):
        if task not in matrix.columns:
            continue
        errors = matrix[task].dropna()
        wide = group.pivot(index="arch_id", columns="predictor", values="score").reindex(errors.index)
        predictors = list(dict.fromkeys(group["predictor"]))
        values = np.column_stack(
            [-errors.to_numpy(float), *(rankable(wide[p].to_numpy(float)) for p in predictors)]
        )
        sets = [(0, j + 1) for j in range(len(predictors))]
        point = [d[0, 0, 1] for d in spearman_draws(values, sets, np.ones((1, len(values))))]
        draws = np.empty((0, len(sets)))
        for b in blocks(n_boot, values.size):
            boot = spearman_draws(values, sets, resample_counts(len(values), b, rng))
            draws = np.concatenate([draws, np.stack([d[:, 0, 1] for d in boot], axis=1)])
        seconds = group.groupby("predictor")["seconds"].sum()
        for j, predictor in enumerate(predictors):
            n = int((np.isfinite(values[:, 0]) & np.isfinite(values[:, j + 1])).sum())
            low, high = percentile_ci(draws[:, j], level) if n_boot else (math.nan, math.nan)
            rho = float(point[j])
            hours = float(seconds[predictor]) / 3600
            full = trained.get(task, math.nan)
            rows.append(
                {
                    "task": task,
                    "predictor": predictor,
                    "spearman": rho,
                    "spearman_ci_low": low,
                    "spearman_ci_high": high,
                    "n": n,
                    "verdict": verdict(rho, low, high, n),
                    "seconds": float(seconds[predictor]),
                    "hours": hours,
                    "cost_fraction": hours / full if full > 0 else math.nan,
                }
            )
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS).astype({"n": "int64"})


def best_predictor(agreement: pd.DataFrame, task: str) -> pd.Series | None:
    """The predictor with the highest ρ on `task` (ties: the first listed), or None."""
    rows = agreement[(agreement["task"] == task) & agreement["spearman"].notna()]
    return None if rows.empty else rows.loc[rows["spearman"].idxmax()]


def versus_trained(
    matrix: pd.DataFrame,
    scores: pd.DataFrame,
    picks: Mapping[str, tuple[str, str]],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per target -> (trained source, predictor): ρ of each with the target's errors (the predictor scored
    on the target's own data, sign as in the module doc), delta = ρ_trained − ρ_predictor with the paired
    bootstrap CI and Williams' t p (proxy_tests.proxy_differences). Columns: VERSUS_COLUMNS."""
    if not picks:
        return pd.DataFrame(columns=VERSUS_COLUMNS).astype({"n": "int64"})
    augmented, targets, names = matrix.copy(), {}, {}
    for target, (trained, predictor) in picks.items():
        column = f"{predictor} (zero-cost on {target})"
        mine = scores[(scores["task"] == target) & (scores["predictor"] == predictor)]
        score = pd.Series(rankable(mine["score"].to_numpy(float)), index=mine["arch_id"].to_numpy())
        augmented[column] = -score.reindex(matrix.index)  # −score ranks like an error
        targets[target], names[column] = [trained, column], predictor
    diff = proxy_differences(augmented, targets, n_boot=n_boot, seed=seed, level=level)
    out = pd.DataFrame(
        {
            "target": diff["target"],
            "trained": diff["proxy_a"],
            "predictor": diff["proxy_b"].map(names),
            "rho_trained": diff["rho_a"],
            "rho_zero_cost": diff["rho_b"],
            "delta": diff["delta"],
            "ci_low": diff["ci_low"],
            "ci_high": diff["ci_high"],
            "p_value": diff["p_value"],
            "n": diff["n"],
        }
    )
    return out[VERSUS_COLUMNS]
