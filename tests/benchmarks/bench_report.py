"""Benchmark: `analysis report` on a synthetic study of 500 architectures × 15 tasks (target: under 60 s).

Run from the repository root:  python tests/benchmarks/bench_report.py [--archs 500] [--bootstrap 1000]

Prints the seconds of each stage (in-process `build_report`), the wall time of the `analysis report` command
as a user runs it (a fresh process, imports included), and two baselines measured in the same run:
- the ρ bootstrap: scipy.stats.spearmanr on explicitly resampled vectors, timed on 3 task pairs and scaled to
  all 105 pairs, against our vectorised bootstrap (ranks read from resample counts, all pairs at once; see
  analysis/correlation.py);
- R20's good ranges at 10⁴ resamples: one resample draw per (task, property), as `edf.good_range` does for
  one property, against `edf.good_range_table`, which draws once per task and reads every property at the
  same winners (the same numbers: tests/analysis/test_edf.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from analysis.compute import GOOD_RANGE_PARAMS  # noqa: E402
from analysis.edf import GOOD_RANGE_RESAMPLES, good_range  # noqa: E402
from analysis.report import build_report  # noqa: E402
from tests.analysis.synthetic import T22_TASKS, write_study  # noqa: E402

TASKS = {**T22_TASKS, "mlc2008-balanced": (9, "top1"), "ham10000-balanced": (7, "top1")}


def naive_bootstrap_seconds(matrix, n_boot: int, pairs: int = 3) -> float:
    """Seconds per task pair of the textbook bootstrap (resample, spearmanr), measured on `pairs` pairs."""
    rng = np.random.default_rng(0)
    values = matrix.to_numpy()
    n = values.shape[0]
    start = time.perf_counter()
    for j in range(1, pairs + 1):
        for _ in range(n_boot):
            idx = rng.integers(0, n, n)
            stats.spearmanr(values[idx, 0], values[idx, j])
    return (time.perf_counter() - start) / pairs


def per_property_good_range_seconds(matrix, archs, n_resamples: int) -> float:
    """Seconds of the good ranges computed one property at a time (one resample draw each)."""
    start = time.perf_counter()
    for task in matrix.columns:
        errors = matrix[task].dropna()
        for param in ("error", *GOOD_RANGE_PARAMS):
            values = errors if param == "error" else archs.loc[errors.index, param]
            good_range(values.to_numpy(), errors.to_numpy(), n_resamples=n_resamples)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=500)
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, numpy {np.__version__}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "study"
        write_study(study, n_archs=args.archs, tasks=TASKS)
        print(f"study: {args.archs} architectures × {len(TASKS)} tasks, bootstrap {args.bootstrap}")

        start = time.perf_counter()
        report = build_report(study, Path(tmp) / "inproc", n_boot=args.bootstrap, seed=0)
        total = time.perf_counter() - start
        for stage, seconds in report.timings.items():
            print(f"  {stage:<14} {seconds:6.2f} s")
        print(
            f"in-process total {total:.2f} s "
            f"({len(report.figures)} figure files, {len(report.tables)} tables)"
        )

        cmd = [
            sys.executable,
            "-m",
            "analysis",
            "report",
            str(study),
            "--out",
            str(Path(tmp) / "cli"),
            "--bootstrap",
            str(args.bootstrap),
        ]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
        wall = time.perf_counter() - start
        print(f"`analysis report` command, fresh process: {wall:.2f} s (target < 60 s)")

        pairs = len(TASKS) * (len(TASKS) - 1) // 2
        per_pair = naive_bootstrap_seconds(report.analysis.matrix, args.bootstrap)
        ours = report.timings["correlations"]
        print(
            f"bootstrap baseline (resample + scipy.stats.spearmanr): {per_pair:.2f} s/pair × {pairs} pairs "
            f"= {per_pair * pairs:.1f} s; ours (all pairs, with Pearson, Kendall, point ρ): {ours:.2f} s; "
            f"ratio {per_pair * pairs / ours:.0f}×"
        )
        loop = per_property_good_range_seconds(
            report.analysis.matrix, report.analysis.archs, GOOD_RANGE_RESAMPLES
        )
        ours = report.timings["good ranges"]
        print(
            f"good ranges, {GOOD_RANGE_RESAMPLES} resamples × {len(TASKS)} tasks × "
            f"{1 + len(GOOD_RANGE_PARAMS)} properties: one draw per property {loop:.2f} s; "
            f"ours (one draw per task) {ours:.2f} s; ratio {loop / ours:.1f}×"
        )
    return 0 if wall < 60 else 1


if __name__ == "__main__":
    sys.exit(main())
