"""`launch --study paper --dry-run` on a machine without the datasets: the plan, then what is missing."""

from __future__ import annotations

import subprocess
import sys

from pipeline.study import load_study


def test_paper_dry_run_prints_the_plan_and_every_missing_dataset(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "launch", "--study", "paper", "--dry-run", "--executor", "local"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2
    study = load_study("paper")
    assert done.stdout.startswith("study paper: 7000 runs (500 architectures x 1 seed(s) x 14 tasks)")
    for name in study.tasks:
        assert any(
            line.split()[:3] == [name, "runs", "500"] and "chunks    63" in line
            for line in done.stdout.splitlines()
        ), name
    missing = [line.strip() for line in done.stderr.splitlines()[1:]]
    datasets = sorted({task.dataset for task in study.tasks.values()})
    assert done.stderr.startswith(f"error: {len(datasets)} dataset(s) not ready:")
    assert len(missing) == len(datasets) == 9
    for dataset in datasets:
        assert f"run: python -m pipeline prepare {dataset} --source DIR" in done.stderr
    assert not (tmp_path / "results").exists()  # a dry run writes nothing
