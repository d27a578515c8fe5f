"""Agreement beyond ρ: do tasks share their best architectures, and what does trusting another task cost?

Top-k overlap: |best k on a ∩ best k on b| over the architectures both tasks have (chance level: k²/n).
Regret of choosing by `source` on `target`: the target error of the source's best architecture minus the
target's own best error (percentage points); `regret_top10` lets the user train the source's 10 best on the
target and keep the best of them. Ties in error are broken by arch_id, so every statistic is deterministic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.tables import MIN_ARCHS


def _common(matrix: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    return matrix[[a, b]].dropna() if a != b else matrix[[a]].dropna()


def _ranked(errors: pd.Series) -> pd.Index:
    """Architecture ids from best to worst (ties by arch_id)."""
    return errors.index[np.lexsort((errors.index.to_numpy(), errors.to_numpy()))]


def topk_table(matrix: pd.DataFrame, ks: tuple[int, ...] = (10, 50)) -> pd.DataFrame:
    """Long table (task_a, task_b, k, overlap, fraction, chance, n) for every pair of tasks and k ≤ n."""
    rows = []
    tasks = list(matrix.columns)
    for i, a in enumerate(tasks):
        for b in tasks[i + 1 :]:
            both = _common(matrix, a, b)
            n = len(both)
            for k in ks:
                if k > n:
                    continue
                top_a = set(_ranked(both[a])[:k])
                top_b = set(_ranked(both[b])[:k])
                overlap = len(top_a & top_b)
                rows.append(
                    {
                        "task_a": a,
                        "task_b": b,
                        "k": k,
                        "overlap": overlap,
                        "fraction": overlap / k,
                        "chance": k / n,
                        "n": n,
                    }
                )
    return pd.DataFrame(rows, columns=["task_a", "task_b", "k", "overlap", "fraction", "chance", "n"])


REGRET_COLUMNS = [
    "source",
    "target",
    "chosen_arch_id",
    "chosen_error",
    "best_arch_id",
    "best_error",
    "regret",
    "chosen_rank",
    "regret_top10",
    "n",
]


def regret(matrix: pd.DataFrame, source: str, target: str, top: int = 10) -> dict:
    """Regret on `target` of taking `source`'s best architecture (and the best of `source`'s `top` best)."""
    both = _common(matrix, source, target)
    if len(both) < MIN_ARCHS:  # a choice among one or two architectures says nothing
        return {"source": source, "target": target, "n": len(both)}
    chosen = _ranked(both[source])[0]
    best = _ranked(both[target])[0]
    shortlist = _ranked(both[source])[:top]
    best_of_short = both.loc[shortlist, target].min()
    return {
        "source": source,
        "target": target,
        "chosen_arch_id": int(chosen),
        "chosen_error": float(both.at[chosen, target]),
        "best_arch_id": int(best),
        "best_error": float(both.at[best, target]),
        "regret": float(both.at[chosen, target] - both.at[best, target]),
        "chosen_rank": int((both[target] < both.at[chosen, target]).sum() + 1),
        "regret_top10": float(best_of_short - both.at[best, target]),
        "n": len(both),
    }


def regret_table(matrix: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """Regret of every ordered pair (source, target) of distinct tasks."""
    rows = [regret(matrix, s, t, top) for t in matrix.columns for s in matrix.columns if s != t]
    return pd.DataFrame(rows, columns=REGRET_COLUMNS)
