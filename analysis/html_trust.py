"""The report's sections on how far ρ can be trusted and what a cheaper answer gives (issues 13 and 14): seed
noise, proxy differences and the planner (under Targets), the proxy ladder, zero-cost predictors, and their
paragraphs of the Method section. Each section says in one line when its input is absent."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from analysis import noise
from analysis.compute import Analysis
from analysis.htmlbook import HtmlBook
from analysis.ladder import TRUSTED_CI_LOW as LADDER_CI_LOW
from analysis.ladder import TRUSTED_RHO as LADDER_RHO
from analysis.ladder import trustworthy_sentence, zero_cost_clause
from analysis.trust import ALPHA, MAX_PLAN_RHO, PLAN_HALFWIDTH, distinction
from analysis.wording import MIN_READING_N, _nan

Figures = Callable[[str], None]
DISTINCTION_WORDS = {"better": "yes: better", "worse": "yes: worse", "none": "no", None: "–"}


def _ci(low: float, high: float) -> str:
    return "–" if _nan(low) or _nan(high) else f"[{low:.2f}, {high:.2f}]"


def _rho(rho: float, low: float, high: float) -> str:
    return "–" if _nan(rho) else f"{rho:.2f} {_ci(low, high)}"


def _rho_column(frame: pd.DataFrame, prefix: str) -> list[str]:
    """'ρ [low, high]' per row from the columns <prefix>, <prefix>_ci_low, <prefix>_ci_high."""
    return [_rho(*r) for r in frame[[prefix, f"{prefix}_ci_low", f"{prefix}_ci_high"]].to_numpy()]


def _distinctions(frame: pd.DataFrame, prefix: str) -> list[str]:
    """'yes: better' / 'yes: worse' / 'no' per row from <prefix>, _ci_low, _ci_high, _p (distinction)."""
    keys = [prefix, f"{prefix}_ci_low", f"{prefix}_ci_high", f"{prefix}_p"]
    return [DISTINCTION_WORDS[distinction(*r)] for r in frame[keys].to_numpy()]


def _p(p: float) -> str:
    return "–" if _nan(p) else f"{p:.2g}"


# ---------------------------------------------------------------------------------------------- targets
def target_trust_tables(book: HtmlBook, analysis: Analysis) -> None:
    """Under Targets: the best proxy against the reference, and the architectures ρ ± 0.05 needs."""
    targets = analysis.tables["targets"]
    rows = targets.dropna(subset=["best_minus_reference"])
    if len(rows):
        book.paragraph(
            "Is the best proxy distinguishably better than the reference? Δρ = ρ(best proxy) − "
            "ρ(reference) with its paired bootstrap 95% CI and Williams' t p; distinguishable when "
            f"p < {ALPHA} and the CI excludes 0."
        )
        shown = {
            "target": rows["target"],
            "reference": rows["reference"],
            "ρ reference": rows["reference_spearman"],
            "best proxy": rows["best_proxy"],
            "ρ best proxy": rows["best_proxy_spearman"],
            "Δρ [paired 95% CI]": _rho_column(rows, "best_minus_reference"),
            "Williams' p": rows["best_minus_reference_p"].map(_p),
            "distinguishable": _distinctions(rows, "best_minus_reference"),
        }
        book.table(pd.DataFrame(shown), digits=2)
    book.table(
        analysis.tables["proxy_differences"],
        digits=3,
        collapsed="Every target × pair of sources: ρ difference, paired CI, Williams' t, Zou's CI",
    )
    planned = targets.dropna(subset=["n_for_halfwidth_05"])
    if len(planned):
        book.paragraph(
            f"Architectures a CI of ρ ± {PLAN_HALFWIDTH} would have needed at the observed ρ with the "
            "reference (with the best proxy where there is none), and the planner command that says so "
            "(add --study X --task T for its GPU-hours):"
        )
        shown = {
            "target": planned["target"],
            "|ρ|": planned["planned_rho"],
            f"architectures for ±{PLAN_HALFWIDTH}": planned["n_for_halfwidth_05"].astype(int),
            "architectures in the study": planned["architectures"],
            "command": planned["plan_size_command"],
        }
        book.table(pd.DataFrame(shown), digits=2)


# ---------------------------------------------------------------------------------------------- seed noise
def noise_section(book: HtmlBook, analysis: Analysis) -> None:
    """Reliability per task, the corrected correlations, or one line saying why there are none."""
    t = analysis.tables
    reliability = t["reliability"]
    if reliability.empty:
        why = noise.NO_SEED_COLUMN if noise.NO_SEED_COLUMN in analysis.notes else noise.NO_REPLICATES
        book.paragraph(f"No seed-noise estimate: {why}.")
        return
    seeds = ", ".join(map(str, analysis.base_seeds))
    book.paragraph(
        "A task's reliability is the Spearman ρ between two seeds' errors over its replicated "
        "architectures (the mean over seed pairs): how far its ranking survives retraining. The error "
        f"matrix holds the mean of the base seeds ({seeds}); replicate runs are used only here."
    )
    book.items([_reliability_sentence(r) for r in reliability.itertuples(index=False)], "reading-list")
    missing = [x for x in analysis.matrix.columns if x not in set(reliability["task"])]
    if missing:
        book.paragraph(
            f"Without replicated architectures (their pairs are not corrected): {', '.join(missing)}."
        )
    book.table(reliability, digits=3, collapsed="Reliability per task (tables/reliability.parquet)")
    corrected = t["correlations"].dropna(subset=["spearman_corrected"])
    if corrected.empty:
        return
    book.paragraph(
        "ρ corrected for seed noise (Spearman's correction for attenuation, ρ / √(rel_a · rel_b), with the "
        "reliabilities of the matrix's means); values above 1 are shown as computed and flagged, not clipped."
    )
    shown = {
        "task a": corrected["task_a"],
        "task b": corrected["task_b"],
        "ρ [95% CI]": _rho_column(corrected, "spearman"),
        "ρ corrected [95% CI]": _rho_column(corrected, "spearman_corrected"),
        "rel a": corrected["rel_a"],
        "rel b": corrected["rel_b"],
        "above 1": corrected["corrected_above_1"].map({True: "yes", False: ""}),
    }
    book.table(pd.DataFrame(shown), digits=2)


def _reliability_sentence(r) -> str:
    """One task's seed-noise line: n, seed-to-seed ρ with CI, spread, the matrix's reliability."""
    text = (
        f"{r.task}: {r.n_archs} architectures × {r.n_seeds} seeds; seed-to-seed ρ = "
        f"{_rho(r.seed_spearman, r.seed_spearman_ci_low, r.seed_spearman_ci_high)}; median seed-to-seed "
        f"error difference {r.spread_pp:.2f} points"
    )
    if r.base_seeds > 1:
        text += f"; the matrix's mean of {r.base_seeds} seeds has reliability {r.matrix_reliability:.2f}"
    if r.n_archs < MIN_READING_N:
        text += f"; too few replicated architectures to read (at least {MIN_READING_N} are needed)"
    return text + "."


# ---------------------------------------------------------------------------------------------- ladder
def ladder_section(book: HtmlBook, analysis: Analysis, figs: Figures) -> None:
    """The cheapest trustworthy rung per target (and the parent), the figure, the table; or one line."""
    ladder = analysis.tables["ladder"]
    if ladder.empty:
        book.paragraph(
            "No proxy ladder: the study has no `ladder:` section (no task with a `rung` in study.yaml)."
        )
        return
    if not analysis.has_costs:
        book.paragraph(
            "No costs.parquet in the results folder: the rungs' costs are unknown, so neither cost "
            "fractions nor the figure can be given (python -m pipeline collect --study X writes it)."
        )
    agreement = analysis.tables["zero_cost_agreement"] if analysis.has_zero_cost else None
    for versus in dict.fromkeys(ladder["versus"]):
        text = trustworthy_sentence(ladder, versus, LADDER_RHO, LADDER_CI_LOW)
        clause = zero_cost_clause(agreement, versus, LADDER_RHO, LADDER_CI_LOW)
        book.paragraph(text + (f" {clause}" if clause else ""), "reading")
    figs("ladder")
    shown = ladder.assign(
        **{"ρ [95% CI]": _rho_column(ladder, "spearman"), "cost (% of full)": 100 * ladder["cost_fraction"]}
    )
    columns = [
        "task",
        "factor",
        "value",
        "versus",
        "cost (% of full)",
        "gpu_hours",
        "ρ [95% CI]",
        "n",
        "pareto",
    ]
    book.table(shown[columns], digits=3, collapsed="Every rung × versus (tables/ladder.parquet)")


# ---------------------------------------------------------------------------------------------- zero-cost
def zero_cost_section(book: HtmlBook, analysis: Analysis) -> None:
    """Agreement of each predictor with each task's errors, and per target the best trained source against
    the best predictor; or one line."""
    t = analysis.tables
    if not analysis.has_zero_cost:
        book.paragraph(
            "No zero_cost.parquet in the results folder: python -m pipeline zero-cost --study X scores the "
            "predictors (it is also a step of pipeline run)."
        )
        return
    agreement = t["zero_cost_agreement"]
    book.paragraph(
        "Every predictor's score reads higher = predicted better (lower error); for params and flops that "
        "is the stored convention (bigger predicted better), not a finding. The agreement is Spearman's "
        "ρ(score, −error) over the architectures having both, so a predictor that ranks like training has "
        "ρ > 0. Scores of a task come from one seeded batch of that task's own data."
    )
    if agreement.empty:
        book.paragraph("No zero-cost score belongs to a task with trained errors.")
        return
    grid = agreement.pivot(index="task", columns="predictor", values="spearman")
    grid = grid.reindex(columns=list(dict.fromkeys(agreement["predictor"])))
    book.table(grid.rename_axis(columns=None).reset_index(), digits=2)
    targets = t["targets"].dropna(subset=["zero_cost_spearman"])
    if len(targets):
        book.paragraph(
            "Does training a proxy beat a free predictor? Per target, its best trained source (the "
            "reference or a proxy) against its best zero-cost predictor, scored on the target's own data: "
            "Δρ = ρ(trained) − ρ(predictor) with its paired bootstrap CI and Williams' t p; distinguishable "
            f"when p < {ALPHA} and the CI excludes 0."
        )
        shown = {
            "target": targets["target"],
            "best trained": targets["trained_best"],
            "best zero-cost": targets["zero_cost_best"],
            "ρ zero-cost [95% CI]": _rho_column(targets, "zero_cost_spearman"),
            "Δρ [paired 95% CI]": _rho_column(targets, "trained_minus_zero_cost"),
            "Williams' p": targets["trained_minus_zero_cost_p"].map(_p),
            "training better": _distinctions(targets, "trained_minus_zero_cost"),
        }
        book.table(pd.DataFrame(shown), digits=2)
    book.table(agreement, digits=3, collapsed="Every task × predictor: ρ with 95% CI, n, seconds")


# ---------------------------------------------------------------------------------------------- method
def trust_method(analysis: Analysis) -> list[str]:
    """The Method section's paragraphs on base seeds, seed noise, differences, the planner, the ladder and
    the zero-cost predictors."""
    return [
        "Base seeds: the error matrix averages each architecture's ok runs over the study's base `seeds` "
        "(study.yaml; without it, the seeds every architecture of a task has). Replicate runs (extra seeds "
        "of a few drawn architectures, study.yaml `replicates:`) serve only the seed-noise estimates.",
        "Seed noise: a task's reliability is the Spearman ρ between two seeds' errors over the "
        "architectures having both, averaged over seed pairs (weighted by their architectures); its 95% CI "
        "is the percentile bootstrap over the replicated architectures. The matrix's mean of k base seeds "
        "has the Spearman–Brown reliability k·r / (1 + (k − 1)·r). ρ corrected for seed noise = "
        "ρ_ab / √(rel_a · rel_b) (Spearman's correction for attenuation), its CI from one bootstrap of all "
        "architectures that resamples numerator and reliabilities together; values above 1 are reported "
        "and flagged.",
        "Noise ceiling and share: the ceiling c = √(rel_a · rel_b) is the ρ two tasks would show if their "
        "noise-free rankings were identical. Removing the noise would move ρ to ρ/c, so the share of the "
        "disagreement 1 − ρ that seed noise accounts for is (ρ/c − ρ)/(1 − ρ) = ρ(1 − c)/(c(1 − ρ)), "
        "clipped to [0, 1] (1 when ρ/c ≥ 1; 0 for ρ ≤ 0, as noise only shrinks ρ towards 0). The readings "
        "word it: 0.37 is 'about a third'.",
        "Is one source better than another for a target? ρ(target, a) and ρ(target, b) share the target, "
        "so they are compared as dependent correlations: Williams' t (Williams 1959; Steiger 1980, eq. 7) "
        "with n − 3 degrees of freedom, its statistic divided by √(1 + ρ̄²/2) for Spearman's ρ (Bonett & "
        "Wright 2000), two-sided; beside it the paired percentile bootstrap of ρ_a − ρ_b (the same "
        f"resamples for both) and Zou's (2007) interval. 'Distinguishably better' needs p < {ALPHA} and a "
        f"bootstrap CI that excludes 0, in the same direction; below {MIN_READING_N} architectures the "
        "readings make no such claim.",
        f"Planner: the architectures a CI of ρ ± {PLAN_HALFWIDTH} (total width {2 * PLAN_HALFWIDTH:g}) "
        "needs, from the Fisher-z interval with the Bonett–Wright variance (1 + ρ²/2)/(n − 3), at the "
        f"observed |ρ| rounded to two decimals (at most {MAX_PLAN_RHO}; the width depends on |ρ| only). "
        "python -m pipeline plan-size repeats it with a simulation check and, with --study and --task, "
        "the GPU-hours.",
        "Proxy ladder: a rung's cost is its task's gpu_hours in costs.parquet (the pipeline cost model: "
        "epochs × training images × 3 × MACs at the crop, plus evaluation, at the study's calibration), "
        "as a fraction of its parent's; ρ is against the parent and against each target. The Pareto "
        "frontier holds the rungs no other rung beats on both cost and ρ. The cheapest trustworthy rung "
        f"has ρ ≥ {LADDER_RHO} and a CI low ≥ {LADDER_CI_LOW}.",
        "Zero-cost predictors: scores with higher = predicted better (params and flops: bigger = better, "
        "by convention); agreement = Spearman ρ(score, −error) over the architectures with both, CI by the "
        "same bootstrap; -inf (a degenerate batch) ranks worst, NaN is left out. A target's best trained "
        "source and its best predictor (scored on the target's data) are compared with the test above.",
    ]
