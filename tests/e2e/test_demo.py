"""The embedded demo end to end, shrunk for CI: generated data, local executor, collect, report, re-run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.study import STUDIES_DIR

pytestmark = pytest.mark.slow  # trains for real: tens of seconds
REPO = Path(__file__).resolve().parents[2]


def _small_demo(tmp_path: Path) -> Path:
    """demo.yaml with 4 architectures and 1 epoch, writing under tmp_path."""
    study = yaml.safe_load((STUDIES_DIR / "demo.yaml").read_text())
    study["space"]["n"] = 4
    study["data_root"] = str(tmp_path / "data")
    study["results_dir"] = str(tmp_path / "results")
    for task in study["tasks"].values():
        task["recipe"] = {**task.get("recipe", {}), "epochs": 1}
    path = tmp_path / "demo-small.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def _run(study: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--study", str(study)],
        capture_output=True, text=True, cwd=REPO, timeout=600,
    )  # fmt: skip


def test_demo_runs_end_to_end_and_a_rerun_trains_nothing(tmp_path):
    study = _small_demo(tmp_path)
    first = _run(study)
    assert first.returncode == 0, first.stderr[-2000:]
    lines = first.stdout.strip().splitlines()
    assert lines[-1] == f"report: {tmp_path / 'results' / 'report.html'}"
    # 4 architectures x 6 tasks (4 + two ladder rungs of the reference) + 4 replicate runs of the reference
    assert "runs 28/28 done" in first.stderr  # the progress line (stderr, as every progress line)
    assert sum(line.startswith("generated synth-") for line in lines) == 3

    runs = pd.read_parquet(tmp_path / "results" / "runs.parquet")
    assert len(runs) == 28 and set(runs["status"]) == {"ok"}
    tasks = {"textures", "textures-4", "shapes", "counting", "textures@r16", "textures@e2"}
    assert set(runs["task"]) == tasks
    assert runs.groupby("task")["arch_id"].nunique().eq(4).all()
    assert sorted(runs.loc[runs["task"] == "textures", "seed"].value_counts()) == [4, 4]  # seeds 0 and 1
    assert (
        runs["error"].between(0, 100).all() and (runs.loc[runs["task"] != "textures@e2", "epochs"] == 1).all()
    )
    assert set(runs.loc[runs["task"] == "textures@r16", "resolution"]) == {16}
    zero_cost = pd.read_parquet(tmp_path / "results" / "zero_cost.parquet")
    assert len(zero_cost) == 4 * 6 * 7 and set(zero_cost["task"]) == tasks  # archs x tasks x predictors
    assert len(pd.read_parquet(tmp_path / "results" / "costs.parquet")) == 6
    assert set(runs.loc[runs["task"] == "textures-4", "num_classes"]) == {4}

    html = (tmp_path / "results" / "report.html").read_text()
    assert "Architecture ranking report: demo" in html and "On shapes" in html and "On counting" in html
    correlations = pd.read_parquet(tmp_path / "results" / "tables" / "correlations.parquet")
    assert len(correlations) == 15 and (correlations["n"] == 4).all()  # the base seed only: 4 per task

    again = _run(study)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "report is up to date" in again.stdout
    assert "nothing to submit" in again.stdout and "collected 28 runs (28 ok)" in again.stdout
    assert "generated" not in again.stdout and "runs 28/28" not in again.stderr
    rerun = pd.read_parquet(tmp_path / "results" / "runs.parquet")
    pd.testing.assert_frame_equal(runs, rerun)  # nothing trained again: same rows, same finish times
