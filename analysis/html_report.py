"""The text of report.html: readings, tables and figures of an `Analysis`, in the order a reader needs."""

from __future__ import annotations

import pandas as pd

from analysis.compute import Analysis
from analysis.correlation import correlation_matrix
from analysis.html_trust import (
    ladder_section,
    noise_section,
    target_trust_tables,
    trust_method,
    zero_cost_section,
)
from analysis.htmlbook import HtmlBook
from analysis.structure import stages_text
from analysis.tables import UNDERTRAINED_FRACTION
from analysis.targets import METHOD_RULES

SECTIONS = {
    "targets": "Targets",
    "noise": "Seed noise",
    "ladder": "Proxy ladder",
    "zero_cost": "Zero-cost predictors",
    "correlations": "Correlations",
    "apr": "APR scatter plots",
    "edf": "Error EDFs",
    "drivers": "Drivers",
    "structure": "Structure of the best",
    "agreement": "Agreement beyond ρ",
    "method": "Method",
}


def method(analysis: Analysis) -> list[str]:
    """The Method section: how every number was computed and how the readings word them."""
    return [
        "Only runs with status ok count; an architecture trained with several base seeds on a task enters "
        "with the mean error of its ok base-seed runs. Every statistic uses the architectures present on "
        "both tasks (its n).",
        "Spearman ρ uses average ranks for ties (scipy.stats.spearmanr); its 95% CI is the percentile "
        f"interval of ρ over {analysis.n_boot} bootstrap resamples of architectures (with replacement). "
        "Pearson r and Kendall τ-b are reported beside it.",
        METHOD_RULES,
        "Barely trained: a task whose median final training loss (mean loss of the last epoch) is at least "
        f"{UNDERTRAINED_FRACTION} × ln k, or whose median error is at least {UNDERTRAINED_FRACTION} × the "
        "chance error (100·(1 − 1/k) % for top-1, 100·(1 − 5/k) % for top-5), k classes. Runs tables without "
        "final_loss are judged by the error alone. Such a task's ranking mostly reflects convergence speed.",
        "Error EDF (R20 eq. 1): F(e) = (1/n)·Σ 1[e_i < e]. Good range (R20): resample 25% of the models with "
        f"replacement, keep the best, repeat {analysis.good_range_resamples} times; 2.5/97.5 percentiles of "
        "its value.",
        "Drivers: Spearman ρ of error with cum_depth (Σd), cum_width (Σw), each stage's d, w, b, g, and "
        "flops, params, acts. Structure: per stage, the best architecture's (1/b, d, g, w) and mean ± sd of "
        "the top 15; the bottleneck is shown as 1/b, as in T22 Fig. 13.",
        "flops and params: as architectures.parquet counts them (the design space's image size and class "
        "count, 224 px and 1000 classes unless the study says otherwise), and as trained (the task's crop "
        "size and class count, from runs.parquet).",
        "Top-k overlap: share of the k best architectures two tasks have in common (chance: k/n). Regret: "
        "target error of the source task's best architecture minus the target's best error (percentage "
        "points).",
        *trust_method(analysis),
    ]


def _structure_grid(structure: pd.DataFrame) -> pd.DataFrame:
    """T22 Fig. 13's view: per task and stage, 1/b, d, g, w as best (mean ± sd of the top k)."""
    structure = structure[structure["param"] != "b"].replace({"param": {"inv_b": "1/b (bottleneck)"}})
    cells = structure.assign(
        cell=[
            f"{b:.3g} ({m:.2f} ± {s:.2f})" if p.startswith("1/b") else f"{b:g} ({m:.1f} ± {s:.1f})"
            for p, b, m, s in structure[["param", "best", "mean", "sd"]].itertuples(index=False)
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


def _flags(row: pd.Series) -> str:
    tasks = [row["target"], row["reference"], row["matched_proxy"]]
    flags = [row["target_undertrained"], row["reference_undertrained"], row["matched_undertrained"]]
    hit = dict.fromkeys(t for t, f in zip(tasks, flags, strict=True) if t is not None and pd.notna(f) and f)
    return ", ".join(hit) or "–"


def _targets_display(targets: pd.DataFrame) -> pd.DataFrame:
    """The per-target summary in a form that fits a page: ρ with its CI and verdict in one cell."""

    def rho(prefix: str) -> list[str]:
        return [f"{_with_ci(r, prefix)} {r[f'{prefix}_verdict']}" for _, r in targets.iterrows()]

    return pd.DataFrame(
        {
            "target": targets["target"],
            "classes": targets["classes"],
            "n": targets["reference_n"],
            "ρ vs reference [95% CI], verdict": rho("reference"),
            "matched proxy": targets["matched_proxy"],
            "ρ vs matched [95% CI], verdict": rho("matched"),
            "best proxy": targets["best_proxy"],
            "ρ best proxy [95% CI]": [_with_ci(r, "best_proxy") for _, r in targets.iterrows()],
            "best arch": targets["best_arch_id"],
            "its error (%)": targets["best_error"],
            "ref.'s best: error (%)": targets["reference_choice_error"],
            "matched's best: error (%)": targets["matched_choice_error"],
            "barely trained": [_flags(r) for _, r in targets.iterrows()],
        }
    )


def _best_display(best: pd.DataFrame) -> pd.DataFrame:
    """Each task's best architecture with flops/params where architectures.parquet counts them and as
    trained (the task's crop size and classes), in millions."""
    space = [
        f"{r:.0f} px, {k:.0f} classes" for r, k in best[["space_resolution", "space_classes"]].to_numpy()
    ]
    trained = [
        "–" if pd.isna(r) else f"{r:.0f} px, {k:.0f} classes"
        for r, k in best[["trained_resolution", "trained_classes"]].to_numpy()
    ]
    return pd.DataFrame(
        {
            "task": best["task"],
            "arch": best["arch_id"],
            "error (%)": best["error"],
            "d": best["depths"].map(stages_text),
            "w": best["widths"].map(stages_text),
            "1/b": best["bottleneck_ratios"].map(lambda b: stages_text([round(1 / v, 3) for v in b])),
            "g": best["group_widths"].map(stages_text),
            "MF (space)": best["flops"] / 1e6,
            "M params (space)": best["params"] / 1e6,
            "space size": space,
            "MF (trained)": best["trained_flops"] / 1e6,
            "M params (trained)": best["trained_params"] / 1e6,
            "trained size": trained,
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
    if analysis.warnings:
        book.heading("Warnings", 3, anchor="warnings")
        book.items(analysis.warnings, "warnings")
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
        pairs = t["target_proxies"]
        if len(pairs):
            book.paragraph(
                "Spearman ρ of each target with the reference and every proxy (T22 Table 3, extended):"
            )
            grid = pairs.pivot(index="target", columns="source", values="spearman")
            grid = grid.reindex(index=list(roles.targets), columns=list(dict.fromkeys(pairs["source"])))
            grid = grid.rename_axis(columns=None).reset_index()
            grid.insert(1, "matched proxy", [roles.matched.get(x) for x in roles.targets])
            book.table(grid, digits=2)
            book.table(pairs, digits=3, collapsed="Every target × source: ρ with 95% CI, n, verdict")
        target_trust_tables(book, analysis)
    else:
        book.paragraph("No target task: every task is the reference or a proxy.")
    book.table(t["tasks"], digits=2, collapsed="Tasks: role, classes, architectures, best and median error")

    book.heading(SECTIONS["noise"], anchor="noise")
    noise_section(book, analysis)
    book.heading(SECTIONS["ladder"], anchor="ladder")
    ladder_section(book, analysis, figs)
    book.heading(SECTIONS["zero_cost"], anchor="zero_cost")
    zero_cost_section(book, analysis)

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
    book.paragraph(
        "The best architecture per task. MF / M params (space): as architectures.parquet counts them, at the "
        "design space's size; (trained): at the task's crop size and class count, from runs.parquet."
    )
    book.table(_best_display(t["best"]), digits=1)
    book.paragraph(
        "Per stage: the best architecture's value (mean ± sd of the top 15); the bottleneck as 1/b, "
        "as T22 Fig. 13 draws it."
    )
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
    book.items(method(analysis), "method")
    return book.render()
