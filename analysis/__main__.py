"""The `analysis` command: `analysis report <results dir>` and `analysis compare <results dir>`.

Exit status 0 on success, 2 on bad input (printed as one `error: …` line, no traceback).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import pandas as pd

from analysis.edf import GOOD_RANGE_RESAMPLES
from analysis.errors import AnalysisError
from pipeline.cli import ArgumentParser, UsageError
from pipeline.validate import non_negative_int, positive_int

# The published numbers ship as package data: analysis/published is results/reference/ (a symlink in the
# source tree, copied into the wheel), found the same way from any working directory.
DEFAULT_REFERENCE = Path(str(resources.files("analysis").joinpath("published", "t22.csv")))


def _parser() -> ArgumentParser:
    """The pipeline's parser class: --version on every level, usage errors as one `error:` line."""
    parser = ArgumentParser(prog="analysis", description="Analyse an architecture-correlation study.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    report = verbs.add_parser("report", help="tables/, figures/ and report.html of a results folder")
    report.add_argument(
        "results_dir",
        type=Path,
        help="folder with architectures.parquet and runs.parquet (used when present: study.yaml, "
        "costs.parquet, zero_cost.parquet)",
    )
    report.add_argument("--out", type=Path, default=None, help="output folder (default: the results folder)")
    report.add_argument(
        "--bootstrap", type=non_negative_int, default=1000, help="bootstrap resamples for ρ CIs (0: none)"
    )
    report.add_argument(
        "--good-range-resamples",
        type=positive_int,
        default=GOOD_RANGE_RESAMPLES,
        help=f"R20 good-range repetitions (default {GOOD_RANGE_RESAMPLES:,}, as R20)",
    )
    report.add_argument("--seed", type=non_negative_int, default=0, help="seed of the bootstrap")
    comp = verbs.add_parser("compare", help="a study's correlations beside the published ones (T22)")
    comp.add_argument("results_dir", type=Path, help="results folder (its tables/ are used when present)")
    comp.add_argument(
        "--reference", type=Path, default=DEFAULT_REFERENCE, help="published table (.csv/.parquet)"
    )
    comp.add_argument(
        "--out", type=Path, default=None, help="where to write the comparison (.parquet or .csv)"
    )
    comp.add_argument(
        "--bootstrap", type=non_negative_int, default=1000, help="resamples when tables/ must be computed"
    )
    comp.add_argument("--seed", type=non_negative_int, default=0, help="seed of that bootstrap")
    return parser


def _report(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from analysis.report import build_report

    start = time.perf_counter()
    command = "analysis " + " ".join(argv)
    report = build_report(
        args.results_dir,
        args.out,
        n_boot=args.bootstrap,
        good_range_resamples=args.good_range_resamples,
        seed=args.seed,
        command=command,
    )
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items())
    for note in report.analysis.notes:
        print(f"note: {note}", file=sys.stderr)
    for warning in report.analysis.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"wrote {len(report.tables)} tables, {len(report.figures)} figure files and {report.html} "
        f"in {time.perf_counter() - start:.1f}s ({stages})"
    )
    return 0


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise AnalysisError(f"{path} does not exist; pass --reference PATH (default {DEFAULT_REFERENCE})")
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


def _compare(args: argparse.Namespace) -> int:
    from analysis.reference import compare
    from analysis.report import load_results, write_table

    reference = _read_table(args.reference)
    tables_dir = args.results_dir / "tables"
    if (tables_dir / "correlations.parquet").is_file() and (tables_dir / "drivers.parquet").is_file():
        correlations = pd.read_parquet(tables_dir / "correlations.parquet")
        drivers = pd.read_parquet(tables_dir / "drivers.parquet")
    else:
        from analysis.compute import analyse

        result = analyse(*load_results(args.results_dir), n_boot=args.bootstrap, seed=args.seed)
        correlations, drivers = result.tables["correlations"], result.tables["drivers"]
    table = compare(reference, correlations, drivers)
    with pd.option_context(
        "display.width", 160, "display.max_rows", 500, "display.float_format", "{:.3f}".format
    ):
        print(table.drop(columns=["published_n"]).to_string(index=False))
    found = table["study_n"] > 0
    inside = table.loc[found, "published_in_ci"].dropna()
    scratch = table["setting"] == "scratch"
    print(
        f"{int(found.sum())} of {int(scratch.sum())} published from-scratch correlations have a counterpart "
        f"in the study; {int(inside.sum())} of {len(inside)} with a CI contain the published value"
        + (
            f"; {int((~scratch).sum())} rows of other settings are listed for reference"
            if (~scratch).any()
            else ""
        )
    )
    out = args.out or tables_dir / "comparison.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        table.to_csv(out, index=False)
    else:
        write_table(table, out, "comparison")
    print(f"wrote {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `analysis` and `python -m analysis`."""
    import matplotlib

    matplotlib.use("Agg")  # this shell draws to files only; the library itself never picks a backend
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help or --version
        return int(exc.code or 0)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return _report(args, argv) if args.verb == "report" else _compare(args)
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
