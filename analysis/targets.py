"""Per-target summary: how well the reference and the proxies rank a target's architectures, and a reading.

One row per target task with ρ (and CI, Pearson r, n) against the reference and against its
class-count-matched proxy, the proxy that agrees best, the regret of choosing by the reference or the
matched proxy, and a one-paragraph reading generated from those numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from analysis.correlation import lookup
from analysis.roles import Roles


def _pair(correlations: pd.DataFrame, a: str | None, b: str, prefix: str) -> dict:
    row = lookup(correlations, a, b) if a is not None else None
    keys = ("spearman", "spearman_ci_low", "spearman_ci_high", "pearson", "n")
    if row is None:
        return {f"{prefix}_{k}": (0 if k == "n" else math.nan) for k in keys}
    return {f"{prefix}_{k}": row[k] for k in keys}


def _regret(regrets: pd.DataFrame, source: str | None, target: str) -> float:
    hit = regrets[(regrets["source"] == source) & (regrets["target"] == target)]
    return float(hit["regret"].iloc[0]) if len(hit) else math.nan


def _overlap(topk: pd.DataFrame, a: str | None, b: str, k: int = 10) -> float:
    hit = topk[
        (topk["k"] == k)
        & (((topk["task_a"] == a) & (topk["task_b"] == b)) | ((topk["task_a"] == b) & (topk["task_b"] == a)))
    ]
    return float(hit["fraction"].iloc[0]) if len(hit) else math.nan


def target_table(
    roles: Roles,
    correlations: pd.DataFrame,
    regrets: pd.DataFrame,
    topk: pd.DataFrame,
    sizes: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """One row per target (see module doc), with a `reading` column; `sizes`: architectures per task."""
    rows = []
    for target in roles.targets:
        row = {"target": target, "classes": roles.classes.get(target), "reference": roles.reference}
        if sizes is not None:
            row["architectures"] = int(sizes[target])
        row.update(_pair(correlations, roles.reference, target, "reference"))
        row["matched_proxy"] = roles.matched.get(target)
        row.update(_pair(correlations, row["matched_proxy"], target, "matched"))
        proxy_rho = {p: _pair(correlations, p, target, "p")["p_spearman"] for p in roles.proxies}
        proxy_rho = {p: r for p, r in proxy_rho.items() if not math.isnan(r)}
        row["best_proxy"] = max(proxy_rho, key=proxy_rho.get) if proxy_rho else None
        row["best_proxy_spearman"] = proxy_rho.get(row["best_proxy"], math.nan)
        row["proxies_spearman"] = "; ".join(f"{p}: {r:.3f}" for p, r in proxy_rho.items())
        row["regret_reference"] = _regret(regrets, roles.reference, target)
        row["regret_matched"] = _regret(regrets, row["matched_proxy"], target)
        row["top10_overlap_reference"] = _overlap(topk, roles.reference, target)
        row["top10_overlap_matched"] = _overlap(topk, row["matched_proxy"], target)
        row["reading"] = reading(row)
        rows.append(row)
    return pd.DataFrame(rows)


def _quality(rho: float) -> str:
    if math.isnan(rho):
        return "cannot be judged"
    if rho < -0.1:
        return "inversely"
    return "poorly" if rho < 0.3 else "moderately" if rho < 0.6 else "well" if rho < 0.85 else "very well"


def _rho(row: dict, prefix: str) -> str:
    rho, low, high = (row[f"{prefix}_{k}"] for k in ("spearman", "spearman_ci_low", "spearman_ci_high"))
    ci = f" [{low:.2f}, {high:.2f}]" if not (math.isnan(low) or math.isnan(high)) else ""
    return f"ρ = {rho:.2f}{ci}"


def reading(row: dict) -> str:
    """One paragraph saying, from the numbers of a target row, which task to trust for architecture choice."""
    classes = f"{row['classes']} classes, " if row.get("classes") is not None else ""
    n = row.get("architectures", row["reference_n"])
    parts = [f"On {row['target']} ({classes}n = {n})"]
    if row["reference"] is not None and not math.isnan(row["reference_spearman"]):
        q = _quality(row["reference_spearman"])
        parts[0] += f", {row['reference']} ranks architectures {q} ({_rho(row, 'reference')})."
    elif row["reference"] is not None:
        parts[0] += f", there is no ρ with {row['reference']} (too few shared architectures, or constant)."
    else:
        parts[0] += ", there is no reference task to compare with."
    if row["best_proxy"] is not None:
        best = f"Among the proxies, {row['best_proxy']} agrees best (ρ = {row['best_proxy_spearman']:.2f})"
        matched = row["matched_proxy"]
        if matched is not None and matched != row["best_proxy"] and row["matched_n"]:
            best += f"; the class-count-matched {matched} gives {_rho(row, 'matched')}"
        elif matched == row["best_proxy"]:
            best += f", and it is the class-count-matched proxy ({_rho(row, 'matched')})"
        parts.append(best + ".")
    costs = []
    for prefix, name in (("reference", row["reference"]), ("matched", row["matched_proxy"])):
        value = row[f"regret_{prefix}"]
        if name is None or math.isnan(value) or (prefix == "matched" and name == row["reference"]):
            continue
        if value == 0:
            costs.append(f"{name}'s best architecture is also the best on {row['target']}")
        else:
            costs.append(f"{name}'s best is {value:.2f} points worse than the best on {row['target']}")
    if costs:
        parts.append("Choosing by another task: " + "; ".join(costs) + ".")
    return " ".join(parts)
