"""How far each target's reading can be trusted (issues 13 and 14), as columns of tables/targets.parquet and
sentences of its reading.

Per target, against the reference: ρ corrected for seed noise with its CI, both tasks' reliabilities (of
what the error matrix holds: the mean of the base seeds), the noise ceiling sqrt(rel_a·rel_b) and the share
of the disagreement 1 − ρ that seed noise accounts for (analysis/reliability.py: noise_share). Whether the
best proxy is distinguishably better than the reference: ρ_best − ρ_reference with its paired bootstrap CI
and Williams' t p (analysis/proxy_tests.py); "distinguishable" needs both p < ALPHA and a CI that excludes
0, so the test and the bootstrap must agree. The architectures a CI of ±PLAN_HALFWIDTH would have needed
at the observed ρ (analysis/planner.py) and the planner command that says so. Whether the best trained
source beats the best zero-cost predictor scored on the target's own data (analysis/zero_cost.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from analysis import planner
from analysis.correlation import lookup
from analysis.reliability import noise_ceiling, noise_share
from analysis.roles import Roles
from analysis.wording import MIN_READING_N, _nan, describe

ALPHA = 0.05  # two-sided level of "distinguishably better"
PLAN_HALFWIDTH = 0.05  # the report's planner question: architectures for ρ ± 0.05
MAX_PLAN_RHO = 0.99  # the planner needs |ρ| < 1; a sample ρ of ±1 is planned at this value
TRUST_COLUMNS = {
    "reference_spearman_corrected": float, "reference_spearman_corrected_ci_low": float,
    "reference_spearman_corrected_ci_high": float, "reference_corrected_above_1": "boolean",
    "reference_reliability": float, "target_reliability": float, "noise_ceiling": float, "noise_share": float,
    "best_minus_reference": float, "best_minus_reference_ci_low": float,
    "best_minus_reference_ci_high": float, "best_minus_reference_p": float,
    "planned_rho": float, "n_for_halfwidth_05": float, "plan_size_command": object,
    "zero_cost_best": object, "zero_cost_spearman": float, "zero_cost_spearman_ci_low": float,
    "zero_cost_spearman_ci_high": float, "zero_cost_n": float, "trained_best": object,
    "trained_minus_zero_cost": float, "trained_minus_zero_cost_ci_low": float,
    "trained_minus_zero_cost_ci_high": float, "trained_minus_zero_cost_p": float,
}  # fmt: skip
SHARE_WORDS = (  # (upper bound of the share, words), for "… of the disagreement is seed noise"
    (0.05, "almost none"), (0.15, "about a tenth"), (0.225, "about a fifth"), (0.29, "about a quarter"),
    (0.42, "about a third"), (0.58, "about half"), (0.71, "about two thirds"), (0.9, "about three quarters"),
    (0.999, "nearly all"), (math.inf, "all"),
)  # fmt: skip


# ---------------------------------------------------------------------------------------------- numbers
def planned_rho(rho: float) -> float | None:
    """|ρ| as the planner is asked about it: two decimals, at most MAX_PLAN_RHO (the CI width of ρ depends
    on |ρ| only); None for NaN."""
    if _nan(rho):
        return None
    return round(min(abs(float(rho)), MAX_PLAN_RHO), 2)


def plan_command(rho: float, ci_width: float) -> str:
    """`python -m pipeline plan-size` for a ρ in (−1, 1) and a total width in (0, 2) (planned_rho's ρ)."""
    return f"python -m pipeline plan-size --rho {rho:.2f} --ci-width {ci_width:g}"


def distinction(delta: float, low: float, high: float, p: float) -> str | None:
    """'better' / 'worse' when p < ALPHA and the CI of delta lies above / below 0, 'none' otherwise, None
    when not computed."""
    if any(_nan(v) for v in (delta, p)):
        return None
    if p < ALPHA and not _nan(low) and (low > 0 or high < 0):
        return "better" if low > 0 else "worse"
    return "none"


def share_words(share: float) -> str:
    """'about a third' for 0.37: the share of the disagreement in words (SHARE_WORDS)."""
    return next(words for bound, words in SHARE_WORDS if share < bound)


def _difference_row(differences: pd.DataFrame, target: str, better: str, worse: str) -> dict:
    """ρ_better − ρ_worse for a target from a proxy_differences-shaped table (either order)."""
    mine = differences[differences["target"] == target]
    for a, b, sign in ((better, worse, 1), (worse, better, -1)):
        hit = mine[(mine["proxy_a"] == a) & (mine["proxy_b"] == b)]
        if len(hit):
            r = hit.iloc[0]
            low, high = (r["ci_low"], r["ci_high"]) if sign == 1 else (-r["ci_high"], -r["ci_low"])
            return {"delta": sign * r["delta"], "low": low, "high": high, "p": r["p_value"]}
    return {"delta": math.nan, "low": math.nan, "high": math.nan, "p": math.nan}


def _corrected(correlations: pd.DataFrame, reference: str | None, target: str) -> dict:
    row = None if reference is None else lookup(correlations, reference, target)
    keys = ("spearman_corrected", "spearman_corrected_ci_low", "spearman_corrected_ci_high")
    if row is None or "spearman_corrected" not in row.index:
        return {f"reference_{k}": math.nan for k in keys} | {
            "reference_corrected_above_1": pd.NA, "reference_reliability": math.nan,
            "target_reliability": math.nan, "noise_ceiling": math.nan, "noise_share": math.nan,
        }  # fmt: skip
    rel_ref, rel_target = row["rel_a"], row["rel_b"]
    if row["task_a"] != reference:
        rel_ref, rel_target = rel_target, rel_ref
    return {f"reference_{k}": float(row[k]) for k in keys} | {
        "reference_corrected_above_1": row["corrected_above_1"],
        "reference_reliability": float(rel_ref),
        "target_reliability": float(rel_target),
        "noise_ceiling": float(noise_ceiling(rel_ref, rel_target)),
        "noise_share": float(noise_share(row["spearman"], rel_ref, rel_target)),
    }


def target_trust(
    roles: Roles,
    correlations: pd.DataFrame,
    target_proxies: pd.DataFrame,
    differences: pd.DataFrame,
    agreement: pd.DataFrame | None = None,
    versus: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per target (index: target) with TRUST_COLUMNS (module doc). `correlations` with the corrected
    columns, `target_proxies` as targets.target_proxy_table, `differences` as proxy_differences, `agreement`
    and `versus` as zero_cost.agreement_table / versus_trained (None: no zero-cost scores)."""
    rows = {}
    for target in roles.targets:
        mine = target_proxies[target_proxies["target"] == target].dropna(subset="spearman")
        proxies = mine[mine["role"] == "proxy"]
        best = proxies.loc[proxies["spearman"].idxmax(), "source"] if len(proxies) else None
        row = _corrected(correlations, roles.reference, target)
        diff = (
            _difference_row(differences, target, best, roles.reference)
            if best is not None and roles.reference is not None
            else _difference_row(differences.iloc[:0], target, "", "")
        )
        row |= {f"best_minus_reference{s}": diff[k] for s, k in
                (("", "delta"), ("_ci_low", "low"), ("_ci_high", "high"), ("_p", "p"))}  # fmt: skip
        observed = mine.loc[mine["source"] == roles.reference, "spearman"]
        if observed.empty and best is not None:
            observed = proxies.loc[proxies["source"] == best, "spearman"]
        rho = planned_rho(observed.iloc[0]) if len(observed) else None
        row |= {"planned_rho": math.nan, "n_for_halfwidth_05": math.nan, "plan_size_command": None}
        if rho is not None:
            row |= {
                "planned_rho": rho,
                "n_for_halfwidth_05": planner.needed_for_halfwidth(rho, PLAN_HALFWIDTH),
                "plan_size_command": plan_command(rho, 2 * PLAN_HALFWIDTH),
            }
        row |= _zero_cost(target, agreement, versus)
        rows[target] = row
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(TRUST_COLUMNS))
    return frame.astype(TRUST_COLUMNS)


def _zero_cost(target: str, agreement: pd.DataFrame | None, versus: pd.DataFrame | None) -> dict:
    out = {k: (None if TRUST_COLUMNS[k] is object else math.nan) for k in TRUST_COLUMNS if "zero_cost" in k}
    out["trained_best"] = None
    if agreement is None:
        return out
    hit = versus[versus["target"] == target] if versus is not None else versus
    mine = agreement[(agreement["task"] == target) & agreement["spearman"].notna()]
    if mine.empty:
        return out
    best = mine.loc[mine["spearman"].idxmax()]
    out |= {
        "zero_cost_best": best["predictor"],
        "zero_cost_spearman": best["spearman"],
        "zero_cost_spearman_ci_low": best["spearman_ci_low"],
        "zero_cost_spearman_ci_high": best["spearman_ci_high"],
        "zero_cost_n": best["n"],
    }
    if hit is not None and len(hit):
        v = hit.iloc[0]
        out |= {
            "trained_best": v["trained"],
            "trained_minus_zero_cost": v["delta"],
            "trained_minus_zero_cost_ci_low": v["ci_low"],
            "trained_minus_zero_cost_ci_high": v["ci_high"],
            "trained_minus_zero_cost_p": v["p_value"],
        }
    return out


# ---------------------------------------------------------------------------------------------- words
def _true(value: object) -> bool:
    return value is not None and value is not pd.NA and not _nan(value) and bool(value)


def _ci(low: float, high: float) -> str:
    return "" if _nan(low) or _nan(high) else f" [{low:.2f}, {high:.2f}]"


def _difference_words(delta: float, low: float, high: float, p: float) -> str:
    return f"Δρ = {delta:+.2f}, paired bootstrap 95% CI{_ci(low, high) or ' –'}, Williams' t p = {p:.2g}"


def noise_sentence(row: Mapping) -> str | None:
    """The seed-noise sentence of a target's reading, or None when neither task has a reliability."""
    reference, target = row.get("reference"), row["target"]
    rel_ref, rel_target = row.get("reference_reliability"), row.get("target_reliability")
    if reference is None or (_nan(rel_ref) and _nan(rel_target)):
        return None
    if _nan(rel_ref) or _nan(rel_target):
        missing = reference if _nan(rel_ref) else target
        return f"No seed-noise correction of ρ: {missing} has no replicated architectures (see Seed noise)."
    if min(rel_ref, rel_target) <= 0:
        task, rel = (reference, rel_ref) if rel_ref <= rel_target else (target, rel_target)
        return (
            f"No seed-noise correction of ρ: the reliability of {task} is {rel:.2f} ≤ 0, its seeds do not "
            "agree on a ranking (see Seed noise)."
        )
    rho, corrected = row["reference_spearman"], row.get("reference_spearman_corrected")
    if _nan(rho):
        return None
    ceiling, share = row["noise_ceiling"], row["noise_share"]
    text = (
        f"Seed noise: ρ = {rho:.2f}; the seed-noise ceiling of {reference} and {target} is {ceiling:.2f} "
        f"(√ of their reliabilities {rel_ref:.2f} × {rel_target:.2f})"
    )
    if rho <= 0:
        text += ", but noise only shrinks ρ towards 0: it does not explain a ρ at or below 0"
    elif not _nan(share):
        text += f", so {share_words(share)} ({share:.0%}) of the disagreement is seed noise"
    if _nan(corrected):
        return text + "."
    ci = _ci(row["reference_spearman_corrected_ci_low"], row["reference_spearman_corrected_ci_high"])
    text += f"; corrected for it, ρ = {corrected:.2f}{ci}"
    if _true(row.get("reference_corrected_above_1")):
        text += " (above 1: within sampling error, the noise-free rankings could agree fully)"
    return text + "."


def difference_sentence(row: Mapping) -> str | None:
    """Whether the best proxy ranks the target distinguishably better than the reference, or None."""
    best, reference, target = row.get("best_proxy"), row.get("reference"), row["target"]
    delta, low, high, p = (row.get(f"best_minus_reference{s}") for s in ("", "_ci_low", "_ci_high", "_p"))
    kind = distinction(delta, low, high, p)
    if best is None or reference is None or kind is None:
        return None
    words = _difference_words(delta, low, high, p)
    n = min(int(row.get("reference_n") or 0), int(row.get("best_proxy_n") or 0))
    if n < MIN_READING_N:
        told = f"cannot be told from n = {n} architectures"
        return f"Whether {best} ranks {target} better than {reference} {told} ({words})."
    if kind == "better":
        return f"{best} ranks {target} distinguishably better than {reference} ({words})."
    if kind == "worse":
        return f"{reference} ranks {target} distinguishably better than the best proxy, {best} ({words})."
    return f"The best proxy, {best}, is not distinguishably better than {reference} ({words})."


def zero_cost_sentence(row: Mapping) -> str | None:
    """How the best zero-cost predictor on the target's data compares with the best trained source."""
    predictor, target = row.get("zero_cost_best"), row["target"]
    if predictor is None or _nan(predictor):
        return None
    zc = (row["zero_cost_spearman"], row["zero_cost_spearman_ci_low"], row["zero_cost_spearman_ci_high"])
    n = 0 if _nan(row.get("zero_cost_n")) else int(row["zero_cost_n"])
    text = (
        f"Among the zero-cost predictors (scored on the images of {target}), {predictor} has the highest ρ "
        f"and {describe(*zc, n)}"
    )
    trained = row.get("trained_best")
    delta, low, high, p = (row.get(f"trained_minus_zero_cost{s}") for s in ("", "_ci_low", "_ci_high", "_p"))
    kind = distinction(delta, low, high, p)
    if trained is None or kind is None:
        return text + "."
    if n < MIN_READING_N:
        return text + f"; too few architectures to compare it with the trained {trained}."
    words = _difference_words(delta, low, high, p)
    if kind == "better":
        return text + f"; training pays off: {trained} ranks {target} distinguishably better ({words})."
    if kind == "worse":
        return text + f", distinguishably better than the best trained source, {trained} ({words})."
    return text + f"; the best trained source, {trained}, is not distinguishably better ({words})."


def planner_sentence(row: Mapping) -> str | None:
    """The architectures a CI of ±PLAN_HALFWIDTH would have needed, with the planner command."""
    n_needed, rho = row.get("n_for_halfwidth_05"), row.get("planned_rho")
    if _nan(n_needed) or _nan(rho):
        return None
    have = row.get("architectures")
    study = "" if _nan(have) else f" (this study has {int(have):,})"
    return (
        f"A CI of ±{PLAN_HALFWIDTH} around ρ = {rho:.2f} would have needed about {int(n_needed):,} "
        f"architectures{study}: `{row['plan_size_command']}`."
    )
