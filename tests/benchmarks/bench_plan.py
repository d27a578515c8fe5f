"""Planning, sharding and submitting an 8,000-run study: a dry run, and real sbatch when a cluster is up.

The study: 1,000 AnyNetX architectures sampled in T22's band (360-400 MF, strides 1,2,2,2) x 8 tasks, each
on a small random store under a catalogue name (the plan reads only store metadata), `runs_per_job` 8 ->
1,000 chunks, one job array per task.

- dry run (ours): `load_study` + `plan_launch` (validation, data check, architectures.parquet read and
  checked against the study's space, each task's data identity, 8,000 run keys, finished-key scan, chunks,
  squeue for earlier jobs still queued, the cluster's MaxArraySize, arrays) + `describe`. Baseline: the bare
  minimum of the same work, a loop that hashes the same 8,000 (architecture, task, seed) JSON payloads with
  sha256.
- submission (only with a reachable SLURM cluster, `--submit`): `launch` with the slurm executor, every job
  held (`--hold`) and cancelled right after, so nothing runs. It plans again, writes study.yaml, one
  submitit pickle per chunk and the launch record. Baseline: the same 8 arrays (125 tasks each) with plain
  `sbatch --hold --array=0-124 --wrap=true`, cancelled the same way.

The architectures are sampled as `pipeline sample` does (`pipeline.sample.sample_study`, untimed), so the
file carries the space the study declares.

Wall clock (`time.perf_counter`), after imports; the load average at start is printed.

    python tests/benchmarks/bench_plan.py [--submit] [--archs 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from pipeline.data.store import write_store

DATASETS = ["cifar10", "cifar100", "powerline", "concrete", "natural", "mlc2008", "ham10000", "insects"]


def build(root: Path, n_archs: int) -> Path:
    """Stores, the study YAML and architectures.parquet (sampled as `pipeline sample` does, so it carries
    the study's space); returns the study file."""
    from pipeline.sample import sample_study
    from pipeline.study import load_study

    rng = np.random.default_rng(0)
    for name in DATASETS:
        images = rng.integers(0, 256, size=(20, 8, 8, 3), dtype=np.uint8)
        labels = np.arange(20) % 2
        write_store(
            root / "data" / name, images, labels, ["train"] * 10 + ["val"] * 10, ["a", "b"], name=name
        )
    profile = Path(__file__).resolve().parents[2] / "slurm" / "profiles" / "local-test.yaml"
    study = {
        "name": "bench",
        "data_root": str(root / "data"),
        "results_dir": str(root / "results" / "bench"),
        "space": {"n": n_archs, "seed": 0, "flops_mf": [360, 400], "strides": [1, 2, 2, 2]},
        "reference": "cifar10",
        "tasks": {name: {"dataset": name, "recipe": {"epochs": 1, "metric": "top1"}} for name in DATASETS},
        "executor": {
            "kind": "slurm",
            "profile": str(profile),
            "runs_per_job": 8,
            "timeout_min": 5,
            "slurm": {"additional_parameters": {"hold": True, "requeue": True}},
        },
    }
    path = root / "bench.yaml"
    path.write_text(yaml.safe_dump(study))
    sample_study(load_study(path))
    return path


def baseline_hashes(archs: pd.DataFrame) -> float:
    start = time.perf_counter()
    records = archs[["depths", "widths", "bottleneck_ratios", "group_widths"]].to_dict("records")
    for task in DATASETS:
        for arch in records:
            payload = {k: [int(x) for x in v] for k, v in arch.items()} | {"task": task, "seed": 0}
            hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return time.perf_counter() - start


def cancel(ids: list[str]) -> None:
    arrays = sorted({i.split("_")[0] for i in ids})
    if arrays:
        subprocess.run(["scancel", *arrays], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=1000)
    parser.add_argument("--submit", action="store_true", help="also submit (held) to the SLURM cluster")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()}, cores {os.cpu_count()}")
    from pipeline.launch import describe, launch, plan_launch
    from pipeline.study import load_study

    with tempfile.TemporaryDirectory() as tmp:
        path = build(Path(tmp), args.archs)
        archs = pd.read_parquet(Path(tmp) / "results" / "bench" / "architectures.parquet")
        base = baseline_hashes(archs)
        start = time.perf_counter()
        study = load_study(path)
        lp = plan_launch(study)
        text = describe(lp)
        ours = time.perf_counter() - start
        print(text.splitlines()[0])
        print(
            f"dry run (validate + plan + shard {len(lp.plan)} runs): {ours:.3f} s; "
            f"bare sha256 loop: {base:.3f} s"
        )
        if not args.submit:
            return
        start = time.perf_counter()
        record = launch(study, out=lambda line: None)
        ours = time.perf_counter() - start
        ids = [j["job_id"] for j in record["jobs"]]
        cancel(ids)
        print(f"launch on SLURM (held): {len(ids)} array tasks in {len(lp.arrays())} arrays: {ours:.2f} s")
        start = time.perf_counter()
        plain = []
        for _task, chunks in lp.arrays():
            out = subprocess.run(
                ["sbatch", "--parsable", "--hold", f"--array=0-{len(chunks) - 1}", "--wrap=true"],
                capture_output=True,
                text=True,
                check=True,
            )
            plain.append(out.stdout.strip().split(";")[0])
        base = time.perf_counter() - start
        cancel(plain)
        print(f"plain sbatch of the same arrays (held): {base:.2f} s; ratio {ours / base:.1f}x")


if __name__ == "__main__":
    main()
