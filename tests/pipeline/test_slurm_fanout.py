"""Real SLURM (the one-node cluster of slurm/start-cluster.sh): job arrays run a tiny study to the end,
a signalled job is requeued and resumes from its checkpoint, a killed worker's leftovers are never read.

Needs the `slurm_cluster` fixture (tests/conftest.py); skipped when no cluster answers.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline import runs
from pipeline.collect import collect
from pipeline.launch import launch, launch_records
from pipeline.status import squeue_states, study_status
from pipeline.study import load_study
from tests.pipeline.fanout_support import make_tiny_study, write_random_store

pytestmark = pytest.mark.slurm
PROFILE = Path(__file__).resolve().parents[2] / "slurm" / "profiles" / "local-test.yaml"


@pytest.fixture
def cluster(request):
    try:
        return request.getfixturevalue("slurm_cluster")
    except pytest.FixtureLookupError:  # the conftest fixture is not there: probe the cluster ourselves
        try:
            ok = subprocess.run(["sinfo", "-h"], capture_output=True, timeout=20).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if not ok:
            pytest.skip("no SLURM cluster answers (run slurm/start-cluster.sh)")
        return None


def _slurm_study(root: Path, cluster, **kwargs) -> Path:
    path = make_tiny_study(root, kind="slurm", **kwargs)
    raw = yaml.safe_load(path.read_text())
    raw["executor"].update(profile=str(PROFILE), timeout_min=5, array_parallelism=2)
    if cluster is not None:
        raw["executor"]["partition"] = cluster.partition
    path.write_text(yaml.safe_dump(raw))
    return path


def _job_ids(study) -> list[str]:
    return [j["job_id"] for r in launch_records(study.results_dir) for j in r["jobs"] if j.get("job_id")]


def _wait(study, timeout_s: float = 400) -> None:
    ids = set(_job_ids(study))
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if not ids & set(squeue_states()):
            return
        time.sleep(2)
    subprocess.run(["scancel", *ids], check=False)
    pytest.fail(f"jobs {sorted(ids)} still queued after {timeout_s} s")


def test_a_study_runs_as_job_arrays_and_collects(tmp_path, cluster):
    study = load_study(_slurm_study(tmp_path, cluster))
    record = launch(study, out=lambda line: None)
    assert len(record["jobs"]) == 4 and all("_" in j["job_id"] for j in record["jobs"])  # array task ids
    assert len({j["job_id"].split("_")[0] for j in record["jobs"]}) == 2  # one array per task
    _wait(study)
    table, failures = study_status(study)
    assert failures == [] and table["done"].tolist() == [3, 3]
    _, rows = collect(study)
    assert len(rows) == 6 and set(rows["status"]) == {"ok"}
    again = launch(study, out=lambda line: None)
    assert again["jobs"] == [] and len(launch_records(study.results_dir)) == 1


def _one_run_study(root: Path, cluster, *, epochs: int = 4, n_train: int = 640) -> Path:
    """One architecture, one task, a few epochs on a bigger store: long enough to be signalled mid-run."""
    path = _slurm_study(root, cluster, epochs=epochs, runs_per_job=1)
    write_random_store(root / "data" / "cifar10", "cifar10", 10, seed=0, n_train=n_train, n_val=64, size=16)
    raw = yaml.safe_load(path.read_text())
    del raw["tasks"]["power"]
    path.write_text(yaml.safe_dump(raw))
    archs = pd.read_parquet(root / "results" / "tiny" / "architectures.parquet")
    archs[archs["arch_id"] == 2].to_parquet(root / "results" / "tiny" / "architectures.parquet", index=False)
    return path


def test_a_signalled_job_is_requeued_and_resumes_to_the_same_result(tmp_path, cluster):
    signalled = load_study(_one_run_study(tmp_path / "a", cluster))
    straight = load_study(_one_run_study(tmp_path / "b", cluster))
    launch(signalled, out=lambda line: None)
    launch(straight, out=lambda line: None)
    (job,) = launch_records(signalled.results_dir)[0]["jobs"]
    (key,) = pd.read_parquet(signalled.results_dir / "plan.parquet")["run_key"]
    ckpt = runs.checkpoint_path(signalled.results_dir, "cifar", key)
    deadline = time.time() + 300
    while not ckpt.exists():  # at least one epoch done, the run still in progress
        assert time.time() < deadline, "no checkpoint appeared"
        assert not runs.result_path(signalled.results_dir, "cifar", key).exists(), (
            "run ended before the signal"
        )
        time.sleep(0.2)
    subprocess.run(["scancel", "--signal=USR2", job["job_id"]], check=True)
    _wait(signalled)
    _wait(straight)
    a = pd.read_parquet(runs.result_path(signalled.results_dir, "cifar", key)).iloc[0]
    b = pd.read_parquet(runs.result_path(straight.results_dir, "cifar", key)).iloc[0]
    assert a["status"] == b["status"] == "ok" and a["epochs_done"] == 4
    for column in ("final_loss", "top1_err", "top5_err"):
        assert a[column] == b[column], column
    log = Path(job["stderr"]).with_name(Path(job["stderr"]).name.replace(".err", ".out")).read_text()
    err = Path(job["stderr"]).read_text()
    assert "Caught signal SIGUSR2" in err or "Caught signal USR2" in err
    assert f"run {key}: resuming after epoch" in log  # the requeued job continued the checkpoint


def test_a_killed_worker_leaves_nothing_that_is_read(tmp_path, cluster):
    study = load_study(_one_run_study(tmp_path, cluster, epochs=12, n_train=1280))
    (key,) = runs.plan_study(
        study, runs.read_architectures(study), {"cifar": runs.task_identity(study, study.tasks["cifar"])}
    )["run_key"]
    folder = runs.runs_dir(study.results_dir, "cifar")
    folder.mkdir(parents=True)
    (folder / f".{key}.parquet.tmp-999").write_bytes(b"PAR1 half a row")  # what a killed writer leaves
    launch(study, out=lambda line: None)
    (job,) = launch_records(study.results_dir)[0]["jobs"]
    ckpt = runs.checkpoint_path(study.results_dir, "cifar", key)
    deadline = time.time() + 300
    while not ckpt.exists():
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.2)
    subprocess.run(["scancel", job["job_id"]], check=True)  # cancelled: killed, not requeued
    _wait(study)
    assert runs.finished_keys(study.results_dir, "cifar") == set()
    table, failures = study_status(study)
    assert table["done"].tolist() == [0] and table["failed"].tolist() == [1]
    assert failures[0]["error"]  # the last line of the job's stderr, e.g. "srun: error: vm: task 0: Killed"
    _, rows = collect(study)
    assert rows.empty
    launch(study, out=lambda line: None)  # the killed chunk is submitted again and resumes
    _wait(study)
    _, rows = collect(study)
    assert rows["run_key"].tolist() == [key] and rows["status"].tolist() == ["ok"]
