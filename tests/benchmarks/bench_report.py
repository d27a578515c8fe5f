"""Benchmark: `analysis report` on a synthetic study of 500 architectures × 15 tasks (target: under 60 s).

Run from the repository root:  python tests/benchmarks/bench_report.py [--archs 500] [--bootstrap 1000]

Two studies of the same size: "plain" (one seed, no study.yaml: the report as it was before issues 13/14)
and "full" (study.yaml with base seed 0 and replicates: 50 drawn architectures × 2 more seeds on every task;
a ladder: 2 of the 15 tasks are rungs of imagenet; costs.parquet; zero_cost.parquet with 7 predictors ×
15 tasks × every architecture). For each it prints the seconds of each stage (in-process `build_report`),
and the wall time of the `analysis report` command as a user runs it (a fresh process, imports included),
and two baselines measured in the same run on the plain study:
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
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from scipy import stats  # noqa: E402

from analysis.compute import GOOD_RANGE_PARAMS  # noqa: E402
from analysis.edf import GOOD_RANGE_RESAMPLES, good_range  # noqa: E402
from analysis.report import build_report  # noqa: E402
from tests.analysis.synthetic import T22_TASKS, write_study  # noqa: E402

TASKS = {**T22_TASKS, "mlc2008-balanced": (9, "top1"), "ham10000-balanced": (7, "top1")}
RUNGS = {"imagenet@r32": ("resolution", 32), "imagenet@e3": ("epochs", 3)}  # the full study's ladder
FULL_TASKS = {**T22_TASKS, **{rung: T22_TASKS["imagenet"] for rung in RUNGS}}
PREDICTORS = ("synflow", "snip", "grad_norm", "jacob_cov", "naswot", "params", "flops")


def write_full_study(folder: Path, n_archs: int, replicated: int = 50, extra_seeds=(1, 2)) -> None:
    """The "full" study of the module doc, in the files the pipeline writes."""
    write_study(folder, n_archs=n_archs, tasks=FULL_TASKS, seeds=1 + len(extra_seeds))
    runs = pd.read_parquet(folder / "runs.parquet")
    rng = np.random.default_rng(0)
    drawn = rng.permutation(n_archs)[:replicated]
    runs = runs[(runs["seed"] == 0) | runs["arch_id"].isin(drawn)]
    runs.to_parquet(folder / "runs.parquet", index=False)
    tasks = {}
    for task in FULL_TASKS:
        role = "reference" if task == "imagenet" else "proxy" if task.startswith("imagenet") else "target"
        tasks[task] = {"role": role, "proxy": None}
        if task in RUNGS:
            tasks[task]["rung"] = {"of": "imagenet", "factor": RUNGS[task][0], "value": RUNGS[task][1]}
    replicates = {"archs": replicated, "seeds": list(extra_seeds), "tasks": None, "seed": 0}
    study = {"name": "bench", "reference": "imagenet", "seeds": [0], "replicates": replicates, "tasks": tasks}
    (folder / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    hours = {t: 100.0 / (4 if t == "imagenet@r32" else 3 if t == "imagenet@e3" else 1) for t in FULL_TASKS}
    pd.DataFrame(
        {"task": list(hours), "runs": n_archs, "epochs": 10, "train_images": 10**6, "eval_images": 5 * 10**4,
         "crop": 224, "mean_mmacs": 400.0, "total_macs": [h * 5e15 for h in hours.values()],
         "gpu_hours": list(hours.values())}
    ).to_parquet(folder / "costs.parquet", index=False)  # fmt: skip
    base = runs[runs["seed"] == 0]
    frames = []
    for task, group in base.groupby("task"):
        error = group["error"].to_numpy()
        for k, predictor in enumerate(PREDICTORS):
            score = -error * (k % 3) + rng.standard_normal(len(error)) * error.std()
            frames.append(pd.DataFrame({"arch_id": group["arch_id"].to_numpy(), "task": task,
                                        "predictor": predictor, "score": score, "seconds": 0.2}))  # fmt: skip
    pd.concat(frames, ignore_index=True).to_parquet(folder / "zero_cost.parquet", index=False)


def time_report(study: Path, out: Path, n_boot: int) -> tuple[object, float, float]:
    """(Report, in-process seconds, `analysis report` command wall seconds in a fresh process)."""
    start = time.perf_counter()
    report = build_report(study, out / "inproc", n_boot=n_boot, seed=0)
    total = time.perf_counter() - start
    for stage, seconds in report.timings.items():
        print(f"  {stage:<14} {seconds:6.2f} s")
    print(f"in-process total {total:.2f} s ({len(report.figures)} figure files, {len(report.tables)} tables)")
    cmd = [sys.executable, "-m", "analysis", "report", str(study), "--out", str(out / "cli"),
           "--bootstrap", str(n_boot)]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
    wall = time.perf_counter() - start
    print(f"`analysis report` command, fresh process: {wall:.2f} s (target < 60 s)")
    return report, total, wall


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
        print(f"plain study: {args.archs} architectures × {len(TASKS)} tasks, bootstrap {args.bootstrap}")
        report, _, wall = time_report(study, Path(tmp) / "plain", args.bootstrap)

        full = Path(tmp) / "full"
        write_full_study(full, args.archs)
        print(
            f"full study: {args.archs} architectures × {len(FULL_TASKS)} tasks ({len(RUNGS)} ladder rungs), "
            f"50 replicated × 2 seeds, costs.parquet, {len(PREDICTORS)} zero-cost predictors"
        )
        _, _, full_wall = time_report(full, Path(tmp) / "full-out", args.bootstrap)

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
    return 0 if max(wall, full_wall) < 60 else 1


if __name__ == "__main__":
    sys.exit(main())
