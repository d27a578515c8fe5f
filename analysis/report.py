"""`analysis report`: read a study folder, run every analysis, write tables/, figures/ and report.html.

This is the I/O shell around the pure core (`analysis.compute.analyse`, `analysis.plots`): it reads
`architectures.parquet`, `runs.parquet` and, when present, `study.yaml`, `costs.parquet` (written by
`pipeline collect`) and `zero_cost.parquet` (written by `pipeline zero-cost`); every file it writes goes to a
temporary name first and is renamed, so a reader never sees half a table or half a report. An optional file
that cannot be read becomes a warning in the report, not an error.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from analysis.compute import Analysis, analyse
from analysis.correlation import correlation_matrix
from analysis.edf import GOOD_RANGE_RESAMPLES
from analysis.errors import AnalysisError
from analysis.html_report import render_report
from analysis.ladder import TRUSTED_RHO
from analysis.tables import SCHEMAS, to_arrow
from pipeline.fsio import write_with


@dataclass
class Report:
    """What `build_report` wrote and how long each stage took (seconds)."""

    out_dir: Path
    analysis: Analysis
    tables: list[Path] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    html: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)


def load_results(results_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict | None]:
    """runs, architectures and the study mapping (None without study.yaml) of a results folder."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise AnalysisError(f"results folder {str(results_dir)!r} does not exist")
    frames = []
    for name, hint in (
        ("runs.parquet", "run: python -m pipeline collect"),
        ("architectures.parquet", "run: python -m pipeline sample"),
    ):
        path = results_dir / name
        if not path.is_file():
            raise AnalysisError(f"{path} is missing; {hint}")
        try:
            frames.append(pd.read_parquet(path))
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise AnalysisError(f"{path} is not a readable parquet file ({exc})") from exc
    study = None
    study_path = results_dir / "study.yaml"
    if study_path.is_file():
        try:
            study = yaml.safe_load(study_path.read_text())
        except yaml.YAMLError as exc:
            raise AnalysisError(f"{study_path} is not valid YAML: {exc}") from exc
        if not isinstance(study, dict):
            raise AnalysisError(f"{study_path} must hold a mapping (name, reference, tasks, …)")
    return frames[0], frames[1], study


OPTIONAL_FILES = {"costs": "costs.parquet", "zero_cost": "zero_cost.parquet"}


def load_optional(results_dir: Path) -> tuple[dict[str, pd.DataFrame | None], list[str]]:
    """The optional tables of a results folder (name -> table, None when absent) and a warning for each
    file that exists but cannot be read (it is then treated as absent)."""
    found: dict[str, pd.DataFrame | None] = {}
    problems = []
    for key, name in OPTIONAL_FILES.items():
        path = Path(results_dir) / name
        found[key] = None
        if not path.is_file():
            continue
        try:
            found[key] = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            problems.append(f"{path} is not a readable parquet file ({exc}); its section is left out")
    return found, problems


def write_table(df: pd.DataFrame, path: Path, name: str | None = None) -> None:
    """Write one table as parquet, atomically; with the arrow schema of `name` (analysis.tables.SCHEMAS,
    default: the file's stem), so empty and all-NaN columns keep their types."""
    import pyarrow.parquet as pq

    name = name or path.stem
    if name in SCHEMAS:
        table = to_arrow(df, name)
        write_with(path, lambda tmp: pq.write_table(table, tmp))
    else:
        write_with(path, lambda tmp: df.to_parquet(tmp, index=False))


def save_figure(fig, stem: Path, dpi: int = 110, *, tight: bool = False) -> bytes:
    """Write `stem`.png and `stem`.svg atomically, close the figure, and return the PNG bytes. `tight` crops
    to the drawn content (one more draw; for the clustermap, whose colorbar sits outside its canvas)."""
    import matplotlib.pyplot as plt

    bbox = "tight" if tight else None
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches=bbox)
    png = buffer.getvalue()
    write_with(stem.with_suffix(".png"), lambda tmp: tmp.write_bytes(png))
    write_with(
        stem.with_suffix(".svg"), lambda tmp: fig.savefig(tmp, format="svg", dpi=dpi, bbox_inches=bbox)
    )
    plt.close(fig)  # a no-op for figures pyplot does not manage
    return png


def draw_figures(analysis: Analysis, fig_dir: Path) -> list[tuple[str, str, str, bytes]]:
    """Draw every figure into `fig_dir`; return (section, file stem, caption, png) in report order."""
    from analysis import plots

    t = analysis.tables
    matrix, roles = analysis.matrix, analysis.roles
    out = []

    def add(section: str, name: str, caption: str, fig) -> None:
        out.append(
            (section, name, caption, save_figure(fig, fig_dir / name, tight=name.endswith("clustermap")))
        )

    rho = correlation_matrix(t["correlations"]).loc[list(matrix.columns), list(matrix.columns)]
    n_all = int(matrix.dropna().shape[0])
    add(
        "correlations",
        "correlation_clustermap",
        "Spearman ρ between every pair of tasks, clustered (average linkage on 1 − ρ).",
        plots.clustermap_figure(rho, n=n_all or None),
    )
    for target in roles.targets:
        sources = list(
            dict.fromkeys(s for s in (roles.reference, roles.matched.get(target)) if s is not None)
        )
        if sources:
            add(
                "apr",
                f"apr_{target}",
                f"APR of {target}: its error against {' and '.join(sources)}; "
                f"best and worst 10 on {target} marked (at most a quarter of the architectures each).",
                plots.apr_figure(matrix, target, sources, t["correlations"], analysis.labels),
            )
    add("edf", "edf_overlay", "Error EDF of every task (R20 eq. 1).", plots.edf_overlay_figure(matrix))
    add("edf", "edf_per_task", "Error EDF per task.", plots.edf_grid_figure(matrix, analysis.labels))
    add(
        "drivers",
        "drivers_heatmap",
        "Spearman ρ of error with each architecture property, per task.",
        plots.driver_heatmap_figure(t["drivers"]),
    )
    for driver, name in (("cum_depth", "cumulative depth Σd"), ("cum_width", "cumulative width Σw")):
        add(
            "drivers",
            f"drivers_{driver}",
            f"Error against {name} per task.",
            plots.driver_figure(matrix, analysis.archs, driver, t["drivers"]),
        )
    ladder = t["ladder"]
    placeable = ladder["cost_fraction"].gt(0) & ladder["spearman"].notna()
    if placeable.any():
        from analysis.ladder_figure import ladder_figure

        scores = t["zero_cost_agreement"] if analysis.has_zero_cost else None
        figure = ladder_figure(ladder, TRUSTED_RHO, scores)
        add("ladder", "ladder", ladder_caption(scores is not None), figure)
    return out


def ladder_caption(zero_cost: bool) -> str:
    """The ladder figure's caption; says where the zero-cost diamonds sit and why."""
    text = (
        "Proxy ladder: each rung's cost (fraction of the full task's GPU-hours from costs.parquet, log "
        "scale) against its Spearman ρ (bootstrap 95% CI) with the full task (parent) and with each target; "
        "stars: the full task, ringed: the Pareto frontier (no cheaper rung ranks better), dashed: "
        f"ρ = {TRUSTED_RHO}."
    )
    if zero_cost:
        text += (
            " Grey diamonds: zero-cost predictors scored on the panel's task, drawn at a fixed x one decade "
            "left of the cheapest rung, not at their measured cost: that is wall-clock seconds on the "
            "scoring device (0 for params and flops), listed in the Zero-cost section."
        )
    return text


def build_report(
    results_dir: Path,
    out_dir: Path | None = None,
    *,
    n_boot: int = 1000,
    good_range_resamples: int = GOOD_RANGE_RESAMPLES,
    seed: int = 0,
    command: str = "",
) -> Report:
    """Analyse a results folder; write tables/*.parquet, figures/*.{png,svg}, report.html into `out_dir`.
    `n_boot`: bootstrap resamples of each ρ CI; `good_range_resamples`: R20's good-range repetitions."""
    results_dir = Path(results_dir)
    out_dir = Path(out_dir) if out_dir is not None else results_dir
    if n_boot < 0:
        raise AnalysisError(f"--bootstrap must be 0 or more, got {n_boot}")
    if good_range_resamples < 1:
        raise AnalysisError(f"--good-range-resamples must be 1 or more, got {good_range_resamples}")
    start = time.perf_counter()
    runs, archs, study = load_results(results_dir)
    optional, problems = load_optional(results_dir)
    read_s = time.perf_counter() - start
    analysis = analyse(
        runs,
        archs,
        study,
        n_boot=n_boot,
        good_range_resamples=good_range_resamples,
        seed=seed,
        costs=optional["costs"],
        zero_cost_scores=optional["zero_cost"],
    )
    analysis.warnings += problems
    report = Report(out_dir=out_dir, analysis=analysis, timings={"read": read_s, **analysis.timings})

    clock = time.perf_counter()
    (out_dir / "tables").mkdir(parents=True, exist_ok=True)
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    for name, df in analysis.tables.items():
        path = out_dir / "tables" / f"{name}.parquet"
        write_table(df, path)
        report.tables.append(path)
    report.timings["write tables"] = time.perf_counter() - clock

    clock = time.perf_counter()
    figures = draw_figures(analysis, out_dir / "figures")
    report.figures = [
        out_dir / "figures" / f"{name}.{ext}" for _, name, _, _ in figures for ext in ("png", "svg")
    ]
    report.timings["figures"] = time.perf_counter() - clock

    clock = time.perf_counter()
    name = str((study or {}).get("name") or results_dir.resolve().name)
    text = render_report(analysis, figures, study_name=name, results_dir=str(results_dir), command=command)
    report.html = out_dir / "report.html"
    write_with(report.html, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    report.timings["html"] = time.perf_counter() - clock
    return report
