"""The text of report.html: readings, tables and figures of an `Analysis`, in the order a reader needs."""

from __future__ import annotations

import pandas as pd

from analysis.compute import Analysis
from analysis.correlation import correlation_matrix
from analysis.htmlbook import HtmlBook

SECTIONS = {
    "targets": "Targets",
    "correlations": "Correlations",
    "apr": "APR scatter plots",
    "edf": "Error EDFs",
    "drivers": "Drivers",
    "structure": "Structure of the best",
    "agreement": "Agreement beyond ρ",
    "method": "Method",
}

METHOD = [
    "Only runs with status ok count; an architecture trained with several seeds on a task enters with the "
    "mean error of its ok seeds. Every statistic uses the architectures present on both tasks (its n).",
    "Spearman ρ uses average ranks for ties (scipy.stats.spearmanr); its 95% CI is the percentile interval "
    "of ρ over bootstrap resamples of architectures (with replacement). Pearson r and Kendall τ-b are "
    "reported beside it.",
    "Error EDF (R20 eq. 1): F(e) = (1/n)·Σ 1[e_i < e]. Good range (R20): resample 25% of the models with "
    "replacement, keep the best, repeat; 2.5/97.5 percentiles of its value.",
    "Drivers: Spearman ρ of error with cum_depth (Σd), cum_width (Σw), each stage's d, w, b, g, and "
    "flops, params, acts. Structure: per stage, the best architecture's (b, d, g, w) and mean ± sd of "
    "the top 15.",
    "Top-k overlap: share of the k best architectures two tasks have in common (chance: k/n). Regret: "
    "target error of the source task's best architecture minus the target's best error (percentage points).",
]


def _structure_grid(structure: pd.DataFrame) -> pd.DataFrame:
    cells = structure.assign(
        cell=[
            f"{b:g} ({m:.1f} ± {s:.1f})"
            for b, m, s in structure[["best", "mean", "sd"]].itertuples(index=False)
        ]
    )
    grid = cells.pivot_table(
        index=["task", "param"], columns="stage", values="cell", aggfunc="first", sort=False
    )
    grid.columns = [f"stage {c}" for c in grid.columns]
    return grid.reset_index()


def _with_ci(row: pd.Series, prefix: str) -> str:
    rho, low, high = (row[f"{prefix}_{k}"] for k in ("spearman", "spearman_ci_low", "spearman_ci_high"))
    if pd.isna(rho):
        return "–"
    return f"{rho:.2f}" + ("" if pd.isna(low) else f" [{low:.2f}, {high:.2f}]")


def _targets_display(targets: pd.DataFrame) -> pd.DataFrame:
    """The per-target summary in a form that fits a page: ρ with its CI in one cell."""
    return pd.DataFrame(
        {
            "target": targets["target"],
            "classes": targets["classes"],
            "n": targets["reference_n"],
            "ρ vs reference [95% CI]": [_with_ci(r, "reference") for _, r in targets.iterrows()],
            "r vs reference": targets["reference_pearson"],
            "matched proxy": targets["matched_proxy"],
            "ρ vs matched [95% CI]": [_with_ci(r, "matched") for _, r in targets.iterrows()],
            "best proxy": targets["best_proxy"],
            "ρ best proxy": targets["best_proxy_spearman"],
            "regret ref. (pp)": targets["regret_reference"],
            "regret matched (pp)": targets["regret_matched"],
            "top-10 overlap ref.": targets["top10_overlap_reference"],
        }
    )


def _pair_matrix(df: pd.DataFrame, a: str, b: str, value: str, order: list[str]) -> pd.DataFrame:
    square = df.pivot(index=a, columns=b, values=value).reindex(index=order, columns=order)
    return square.rename_axis(index=None, columns=None).reset_index(names=f"{a} \\ {b}")


def render_report(
    analysis: Analysis,
    figures: list[tuple[str, str, str, bytes]],
    *,
    study_name: str,
    results_dir: str,
    command: str = "",
) -> str:
    """The whole report.html as a string (figures: (section, stem, caption, png) from `draw_figures`)."""
    t, roles, matrix = analysis.tables, analysis.roles, analysis.matrix
    book = HtmlBook(f"Architecture ranking report: {study_name}")
    book.heading(f"Architecture ranking report: {study_name}", level=1)
    proxies = ", ".join(roles.proxies) or "none"
    ci = f"{analysis.n_boot} bootstrap resamples, seed {analysis.seed}" if analysis.n_boot else "no bootstrap"
    book.paragraph(
        f"{matrix.shape[0]} architectures × {matrix.shape[1]} tasks from {results_dir} "
        f"({analysis.runs_ok} ok runs of {analysis.runs_total}). Reference: {roles.reference or 'none'}; "
        f"proxies: {proxies}. Spearman CIs: {ci}." + (f" Command: {command}" if command else ""),
        "meta",
    )
    book.raw("<nav>" + "".join(f'<a href="#{k}">{v}</a>' for k, v in SECTIONS.items()) + "</nav>")
    if analysis.notes:
        book.heading("Notes", 3)
        book.items(analysis.notes)

    def figs(section: str) -> None:
        for sec, stem, caption, png in figures:
            if sec == section:
                book.figure(png, caption, link=f"figures/{stem}.svg")

    book.heading(SECTIONS["targets"], anchor="targets")
    if len(t["targets"]):
        for reading in t["targets"]["reading"]:
            book.paragraph(reading, "reading")
        book.table(_targets_display(t["targets"]))
        sources = [s for s in (roles.reference, *roles.proxies) if s is not None]
        if sources:
            book.paragraph(
                "Spearman ρ of each target with the reference and every proxy (T22 Table 3, extended):"
            )
            rho_all = correlation_matrix(t["correlations"])
            grid = rho_all.loc[list(roles.targets), sources].rename_axis(index="target").reset_index()
            grid.insert(1, "matched proxy", [roles.matched.get(x) for x in roles.targets])
            book.table(grid, digits=2)
    else:
        book.paragraph("No target task: every task is the reference or a proxy.")
    book.table(t["tasks"], digits=2, collapsed="Tasks: role, classes, architectures, best and median error")

    book.heading(SECTIONS["correlations"], anchor="correlations")
    figs("correlations")
    order = list(matrix.columns)
    rho = correlation_matrix(t["correlations"]).loc[order, order].reset_index(names="ρ")
    book.table(rho, digits=2)
    book.table(t["correlations"], digits=3, collapsed="All pairs: ρ with 95% CI, p, Pearson r, Kendall τ, n")

    book.heading(SECTIONS["apr"], anchor="apr")
    figs("apr")

    book.heading(SECTIONS["edf"], anchor="edf")
    figs("edf")
    book.table(t["good_ranges"], digits=2, collapsed="Good ranges (R20 bootstrap of the best models)")

    book.heading(SECTIONS["drivers"], anchor="drivers")
    figs("drivers")
    main = t["drivers"][t["drivers"]["driver"].isin(["cum_depth", "cum_width", "flops", "params"])]
    main_grid = main.pivot(index="task", columns="driver", values="spearman").reindex(order)
    book.table(main_grid.rename_axis(columns=None).reset_index(), digits=3)
    book.table(t["drivers"], digits=3, collapsed="Every driver: ρ with 95% CI, p, n")

    book.heading(SECTIONS["structure"], anchor="structure")
    book.table(t["best"], digits=2)
    book.paragraph("Per stage: the best architecture's value (mean ± sd of the top 15).")
    book.table(_structure_grid(t["structure"]), collapsed="Top-15 structure per task and stage")

    book.heading(SECTIONS["agreement"], anchor="agreement")
    book.paragraph("Regret (percentage points) on each target (columns) of taking each source's (rows) best.")
    book.table(_pair_matrix(t["regret"], "source", "target", "regret", order), digits=2)
    top10 = t["topk"][t["topk"]["k"] == 10]
    if len(top10):
        both = pd.concat([top10, top10.rename(columns={"task_a": "task_b", "task_b": "task_a"})])
        book.paragraph("Top-10 overlap: share of the 10 best architectures two tasks have in common.")
        book.table(_pair_matrix(both, "task_a", "task_b", "fraction", order), digits=1)
    book.table(t["topk"], digits=3, collapsed="Top-k overlap, every pair, k = 10 and 50")
    book.table(t["regret"], digits=2, collapsed="Regret, every ordered pair")

    book.heading(SECTIONS["method"], anchor="method")
    book.items(METHOD, "method")
    return book.render()
