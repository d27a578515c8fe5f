"""Per-target summary: how well the reference and the proxies rank a target's architectures, which
architecture to pick, and a reading that says no more than the numbers do.

One row per target task with ρ (CI, Pearson r, n, verdict) against the reference, against its
class-count-matched proxy and against the proxy with the highest ρ; the target's best architecture and the
target error of the reference's and the matched proxy's best; regret, top-10 overlap, whether the target or
its sources barely trained, and a one-paragraph reading. `target_proxy_table` lists ρ of every target with
the reference and every proxy (the long form of T22 Table 3).

The wording of ρ (verdicts and phrases) lives in analysis/wording.py; the sentences on seed noise, proxy
differences, the planner and zero-cost predictors in analysis/trust.py. Their names stay importable from here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from analysis.correlation import lookup
from analysis.roles import Roles
from analysis.structure import stages_text
from analysis.tables import SCHEMAS, UNDERTRAINED_FRACTION
from analysis.trust import (
    TRUST_COLUMNS,
    difference_sentence,
    noise_sentence,
    planner_sentence,
    zero_cost_sentence,
)
from analysis.wording import (  # noqa: F401  (re-exported: the wording's public names, as before)
    LEVELS,
    METHOD_RULES,
    MIN_READING_N,
    NO_USE,
    PLAN_CI_WIDTH,
    PREDICATES,
    WIDE_CI,
    _nan,
    _rho,
    _wide,
    describe,
    planner_command,
    verdict,
)

# ---- tables ----


def _pair(correlations: pd.DataFrame, a: str | None, b: str, prefix: str) -> dict:
    row = lookup(correlations, a, b) if a is not None else None
    keys = ("spearman", "spearman_ci_low", "spearman_ci_high", "pearson", "n")
    out = {f"{prefix}_{k}": (0 if k == "n" else math.nan) for k in keys}
    if row is not None:
        out.update({f"{prefix}_{k}": row[k] for k in keys})
    out[f"{prefix}_verdict"] = verdict(*(out[f"{prefix}_{k}"] for k in (*keys[:3], "n")))
    return out


def _regret(regrets: pd.DataFrame, source: str | None, target: str) -> pd.Series | None:
    hit = regrets[(regrets["source"] == source) & (regrets["target"] == target)]
    return hit.iloc[0] if len(hit) else None


def _overlap(topk: pd.DataFrame, a: str | None, b: str, k: int = 10) -> float:
    hit = topk[
        (topk["k"] == k)
        & (((topk["task_a"] == a) & (topk["task_b"] == b)) | ((topk["task_a"] == b) & (topk["task_b"] == a)))
    ]
    return float(hit["fraction"].iloc[0]) if len(hit) else math.nan


def target_proxy_table(roles: Roles, correlations: pd.DataFrame) -> pd.DataFrame:
    """One row per target × source (the reference, then every proxy): ρ with CI, n and its verdict."""
    rows = []
    for target in roles.targets:
        sources = [(roles.reference, "reference")] if roles.reference is not None else []
        for source, role in [*sources, *((p, "proxy") for p in roles.proxies)]:
            pair = _pair(correlations, source, target, "p")
            rows.append(
                {
                    "target": target,
                    "source": source,
                    "role": role,
                    "matched": source == roles.matched.get(target),
                    "spearman": pair["p_spearman"],
                    "spearman_ci_low": pair["p_spearman_ci_low"],
                    "spearman_ci_high": pair["p_spearman_ci_high"],
                    "n": int(pair["p_n"]),
                    "verdict": pair["p_verdict"],
                }
            )
    columns = ["target", "source", "role", "matched", "spearman", "spearman_ci_low", "spearman_ci_high"]
    return pd.DataFrame(rows, columns=[*columns, "n", "verdict"])


def _undertrained(health: pd.DataFrame | None, task: str | None) -> object:
    if health is None or task is None or task not in health.index:
        return pd.NA
    return health.at[task, "undertrained"]


def _best(best: pd.DataFrame | None, target: str) -> dict:
    keys = ("depths", "widths", "bottleneck_ratios", "group_widths")
    hit = None if best is None else best[best["task"] == target]
    if hit is None or hit.empty:
        return {"best_arch_id": math.nan, "best_error": math.nan, **{f"best_{k}": None for k in keys}}
    row = hit.iloc[0]
    out = {"best_arch_id": int(row["arch_id"]), "best_error": float(row["error"])}
    return out | {f"best_{k}": [int(v) for v in row[k]] for k in keys}


def target_table(
    roles: Roles,
    correlations: pd.DataFrame,
    regrets: pd.DataFrame,
    topk: pd.DataFrame,
    sizes: Mapping[str, int] | None = None,
    best: pd.DataFrame | None = None,
    health: pd.DataFrame | None = None,
    trust: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per target (see module doc), with a `reading` column; `sizes`: architectures per task,
    `best`: `structure.best_architectures`, `health`: `tables.training_health` (indexed by task), `trust`:
    `trust.target_trust` (indexed by target; None leaves its columns empty and its sentences out)."""
    proxies = target_proxy_table(roles, correlations)
    rows = []
    for target in roles.targets:
        row = {"target": target, "classes": roles.classes.get(target), "reference": roles.reference}
        row["architectures"] = int(sizes[target]) if sizes is not None else math.nan
        row.update(_pair(correlations, roles.reference, target, "reference"))
        row["matched_proxy"] = roles.matched.get(target)
        row.update(_pair(correlations, row["matched_proxy"], target, "matched"))
        mine = proxies[(proxies["target"] == target) & (proxies["role"] == "proxy")].dropna(subset="spearman")
        row["best_proxy"] = mine.loc[mine["spearman"].idxmax(), "source"] if len(mine) else None
        row.update(_pair(correlations, row["best_proxy"], target, "best_proxy"))
        row.update(_best(best, target))
        for prefix, source in (("reference", roles.reference), ("matched", row["matched_proxy"])):
            hit = _regret(regrets, source, target)
            ok = hit is not None and not _nan(hit["chosen_arch_id"])
            row[f"{prefix}_choice_arch_id"] = int(hit["chosen_arch_id"]) if ok else math.nan
            row[f"{prefix}_choice_error"] = float(hit["chosen_error"]) if ok else math.nan
            row[f"regret_{prefix}"] = float(hit["regret"]) if ok else math.nan
        row["top10_overlap_reference"] = _overlap(topk, roles.reference, target)
        row["top10_overlap_matched"] = _overlap(topk, row["matched_proxy"], target)
        row["target_undertrained"] = _undertrained(health, target)
        row["reference_undertrained"] = _undertrained(health, roles.reference)
        row["matched_undertrained"] = _undertrained(health, row["matched_proxy"])
        if trust is not None and target in trust.index:
            row.update(trust.loc[target].to_dict())
        else:
            row.update({k: (None if t is object else math.nan) for k, t in TRUST_COLUMNS.items()})
        row["reading"] = reading(row)
        rows.append(row)
    return pd.DataFrame(rows, columns=SCHEMAS["targets"].names)


# ---- the reading ----


def _flag(value: object) -> bool:
    return not _nan(value) and bool(value)


def _pick(row: Mapping) -> str | None:
    """'To pick for X: …': the target's best architecture and what the reference's / matched proxy's
    best would give on it."""
    if _nan(row.get("best_arch_id")):
        return None
    target, best_id, best_error = row["target"], int(row["best_arch_id"]), row["best_error"]
    spec = ", ".join(
        f"{letter} {stages_text(row[f'best_{key}'])}"
        for letter, key in (
            ("d", "depths"),
            ("w", "widths"),
            ("b", "bottleneck_ratios"),
            ("g", "group_widths"),
        )
        if row.get(f"best_{key}") is not None
    )
    text = (
        f"To pick for {target}: its best architecture is arch {best_id} ({spec}) at {best_error:.2f}% error"
    )
    seen = set()
    for prefix, source in (("reference", row["reference"]), ("matched", row["matched_proxy"])):
        chosen = row.get(f"{prefix}_choice_arch_id")
        if source is None or source in seen or _nan(chosen):
            continue
        seen.add(source)
        if int(chosen) == best_id:
            text += f"; {source}'s best is the same architecture"
        else:
            error = row[f"{prefix}_choice_error"]
            text += (
                f"; {source}'s best (arch {int(chosen)}) gets {error:.2f}% on {target} "
                f"(+{error - best_error:.2f} points)"
            )
    return text + "."


def reading(row: Mapping) -> str:
    """One paragraph saying, from the numbers of a target row, what the reference and proxies support (and,
    when the row has them, the trust columns: seed noise, proxy differences, zero-cost predictors, the
    planner), whether any of the tasks barely trained, and which architecture to pick."""
    target = row["target"]
    classes = f"{int(row['classes'])} classes, " if not _nan(row.get("classes")) else ""
    n = row.get("architectures")
    n = row["reference_n"] if _nan(n) else int(n)
    head = f"On {target} ({classes}n = {n})"

    def stats(prefix: str) -> tuple:
        return tuple(row[f"{prefix}_{k}"] for k in ("spearman", "spearman_ci_low", "spearman_ci_high", "n"))

    reference = row["reference"]
    if reference is None:
        parts = [head + ", there is no reference task to compare with."]
    elif _nan(row["reference_spearman"]):
        parts = [head + f", there is no ρ with {reference} (too few shared architectures, or constant)."]
    else:
        parts = [head + f", {reference} {describe(*stats('reference'))}."]
    parts.append(noise_sentence(row))
    best, matched = row.get("best_proxy"), row["matched_proxy"]
    if best is not None:
        if matched == best:
            parts.append(
                f"Among the proxies, the class-count-matched {best} has the highest ρ and "
                f"{describe(*stats('best_proxy'))}."
            )
        else:
            text = f"Among the proxies, {best} has the highest ρ and {describe(*stats('best_proxy'))}"
            if matched is not None and matched != reference and row["matched_n"]:
                text += f"; the class-count-matched {matched} {describe(*stats('matched'))}"
            parts.append(text + ".")
    parts += [difference_sentence(row), zero_cost_sentence(row)]
    flagged = (("target", target), ("reference", reference), ("matched", matched))
    for task in dict.fromkeys(t for p, t in flagged if t is not None and _flag(row.get(f"{p}_undertrained"))):
        parts.append(
            f"Architectures barely trained on {task}; its ranking mostly reflects convergence speed."
        )
    pick = _pick(row)
    if pick:
        parts.append(pick)
    sources = [p for p in ("reference", "matched", "best_proxy") if row.get(f"{p}_n")]
    if any(row[f"{p}_n"] < MIN_READING_N or _wide(*stats(p)[1:3]) for p in sources):
        known = [row[f"{p}_spearman"] for p in ("reference", "best_proxy") if not _nan(row[f"{p}_spearman"])]
        rho = known[0] if known else 0.0
        parts.append(
            f"Too few architectures for a confident reading (n = {n}): `{planner_command(rho)}` gives the "
            f"number a CI of width {PLAN_CI_WIDTH} needs."
        )
    parts.append(planner_sentence(row))
    return " ".join(p for p in parts if p)


def report_warnings(targets: pd.DataFrame, health: pd.DataFrame | None, n_archs: int) -> list[str]:
    """The report's visible warnings: small studies (`n_archs`: the most architectures any task has), wide
    CIs and barely trained tasks."""
    out = []
    if n_archs < MIN_READING_N:
        out.append(
            f"At most {n_archs} architectures per task: fewer than {MIN_READING_N}, so no ranking is read; "
            f"see `{planner_command(0.5)}`."
        )
    for row in targets.to_dict("records"):
        for source, prefix in ((row["reference"], "reference"), (row["matched_proxy"], "matched")):
            if source is None or (prefix == "matched" and source == row["reference"]):
                continue
            rho, low, high, n = (
                row[f"{prefix}_{k}"] for k in ("spearman", "spearman_ci_low", "spearman_ci_high", "n")
            )
            if _nan(rho) or not (n < MIN_READING_N or _wide(low, high)):
                continue
            out.append(
                f"{row['target']}: n = {n} architectures shared with {source}; {_rho(rho, low, high)} is too "
                f"uncertain to rank by; see `{planner_command(rho)}`."
            )
    if health is not None:
        for task, h in health.iterrows():
            if not _flag(h["undertrained"]):
                continue
            why = []
            if _flag(h["undertrained_by_loss"]):
                why.append(
                    f"median final training loss {h['median_final_loss']:.2f} ≥ {UNDERTRAINED_FRACTION} × "
                    f"ln k = {UNDERTRAINED_FRACTION * h['chance_loss']:.2f}"
                )
            if _flag(h["undertrained_by_error"]):
                why.append(
                    f"median error {h['median_error']:.1f}% ≥ {UNDERTRAINED_FRACTION} × chance "
                    f"{h['chance_error']:.1f}%"
                )
            out.append(
                f"Architectures barely trained on {task} ({'; '.join(why)}); its ranking mostly reflects "
                "convergence speed."
            )
    return out
