"""Two real `pipeline run` of one study at once, and a plain worker racing a run: every run is trained once.

The study lock makes the second `run` refuse (one error line naming the pid); a worker started by hand
(as a plain sbatch array would) does not take the lock but claims each run first, so it never trains a run
that the running study holds, and never resumes from another process's checkpoint.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pandas as pd
import pytest

from pipeline import layout
from pipeline.launch import current_plan
from pipeline.study import load_study
from tests.pipeline.fanout_support import make_tiny_study

pytestmark = pytest.mark.slow


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def test_two_runs_at_once_train_every_run_once(tmp_path):
    path = make_tiny_study(tmp_path, epochs=3, runs_per_job=3)
    first = _start("pipeline", "run", "--study", str(path), "--no-report")
    lock = tmp_path / "results" / "tiny" / ".lock"
    deadline = time.time() + 60
    while not lock.exists():
        assert time.time() < deadline and first.poll() is None, "the first run never took the lock"
        time.sleep(0.05)
    second = _start("pipeline", "run", "--study", str(path), "--no-report")
    _, err2 = second.communicate(timeout=300)
    _, err1 = first.communicate(timeout=300)
    assert first.returncode == 0, err1[-2000:]
    assert second.returncode == 2 and f"already being run by pid {first.pid}" in err2
    assert err2.count("error:") == 1 and "Traceback" not in err2
    study = load_study(path)
    plan = current_plan(study)
    runs = pd.read_parquet(study.results_dir / "runs.parquet")
    assert sorted(runs["run_key"]) == sorted(plan["run_key"])  # each once, nothing else
    assert not lock.exists()


def test_a_hand_started_worker_and_a_run_share_the_work(tmp_path):
    """Whatever the interleaving, each run ends with exactly one result and no claim is left behind: the
    worker skips what the run holds and the run skips what the worker holds."""
    path = make_tiny_study(tmp_path, epochs=40, runs_per_job=3)
    running = _start("pipeline", "run", "--study", str(path), "--no-report")
    study = load_study(path)
    claims = layout.runs_dir(study.results_dir, "cifar")
    deadline = time.time() + 60
    while not list(claims.glob("*.claim")):
        assert time.time() < deadline and running.poll() is None, "no run was claimed"
        time.sleep(0.02)
    worker = subprocess.run([sys.executable, "-m", "pipeline.worker", "--study", str(path), "--task", "cifar",
                             "--chunk", "0"], capture_output=True, text=True, timeout=300)  # fmt: skip
    running.communicate(timeout=300)
    assert running.returncode in (0, 1) and worker.returncode == 0, worker.stderr[-2000:]
    summary = worker.stdout.strip().splitlines()[
        -1
    ]  # "task cifar chunk 0: trained a, already done b, held c"
    counts = [int(part.rsplit(" ", 1)[1]) for part in summary.split(": ", 1)[1].split(", ")]
    assert sum(counts) == 3, summary
    from pipeline.collect import collect

    table = collect(study, out=lambda line: None).table
    assert sorted(table["run_key"]) == sorted(current_plan(study)["run_key"])  # every run exactly once
    assert not list((study.results_dir / "runs").rglob("*.claim"))
    assert (pd.read_parquet(study.results_dir / "history.parquet").groupby("run_key").size() == 40).all()
