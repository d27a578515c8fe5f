"""Real SLURM (the one-node cluster of slurm/start-cluster.sh): job arrays run a tiny study to the end,
a signalled job is requeued and resumes from its checkpoint, a killed worker's leftovers are never read.

Needs the `slurm_cluster` fixture (tests/conftest.py); skipped when no cluster answers.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

from pipeline import layout
from pipeline.collect import collect
from pipeline.executors import slurm_parameters
from pipeline.jobs import launch_records, squeue_states
from pipeline.launch import current_plan, launch
from pipeline.status import study_status
from pipeline.study import load_study
from tests.pipeline.fanout_support import (
    TINY_ARCHS,
    make_tiny_study,
    tiny_space,
    write_architectures,
    write_random_store,
)

pytestmark = pytest.mark.slurm
PROFILE = Path(__file__).resolve().parents[2] / "slurm" / "profiles" / "local-test.yaml"


@pytest.fixture
def cluster(slurm_cluster):
    """The one-node cluster (tests/conftest.py skips these tests when none answers)."""
    return slurm_cluster


def _slurm_study(root: Path, cluster, **kwargs) -> Path:
    path = make_tiny_study(root, kind="slurm", **kwargs)
    raw = yaml.safe_load(path.read_text())
    raw["executor"].update(profile=str(PROFILE), timeout_min=5, array_parallelism=2)
    raw["executor"]["partition"] = cluster.partition
    path.write_text(yaml.safe_dump(raw))
    return path


def _job_ids(study) -> list[str]:
    return [j["job_id"] for r in launch_records(study.results_dir) for j in r["jobs"] if j.get("job_id")]


def _wait(study, timeout_s: float = 400) -> None:
    ids = set(_job_ids(study))
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if not ids & set(squeue_states() or {}):
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
    table, failures, _ = study_status(study)
    assert failures == [] and table["done"].tolist() == [3, 3]
    rows = collect(study).table
    assert len(rows) == 6 and set(rows["status"]) == {"ok"}
    again = launch(study, out=lambda line: None)
    assert again["jobs"] == [] and len(launch_records(study.results_dir)) == 1


def _wait_for_checkpoint(ckpt: Path, timeout_s: float = 300) -> None:
    """Until the run has finished at least one epoch (its checkpoint exists)."""
    deadline = time.time() + timeout_s
    while not ckpt.exists():
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.2)


def _one_run_study(root: Path, cluster, *, epochs: int = 4, n_train: int = 640) -> Path:
    """One architecture, one task, a few epochs on a bigger store: long enough to be signalled mid-run."""
    path = _slurm_study(root, cluster, epochs=epochs, runs_per_job=1)
    write_random_store(root / "data" / "cifar10", "cifar10", 10, seed=0, n_train=n_train, n_val=64, size=16)
    raw = yaml.safe_load(path.read_text())
    del raw["tasks"]["power"]
    path.write_text(yaml.safe_dump(raw))
    arch_file = root / "results" / "tiny" / "architectures.parquet"
    table = pq.read_table(arch_file)
    pq.write_table(table.filter(pc.equal(table["arch_id"], 2)), arch_file)  # keeps the recorded space
    return path


def test_a_signalled_job_is_requeued_and_resumes_to_the_same_result(tmp_path, cluster):
    signalled = load_study(_one_run_study(tmp_path / "a", cluster))
    straight = load_study(_one_run_study(tmp_path / "b", cluster))
    launch(signalled, out=lambda line: None)
    launch(straight, out=lambda line: None)
    (job,) = launch_records(signalled.results_dir)[0]["jobs"]
    (key,) = current_plan(signalled)["run_key"]
    ckpt = layout.checkpoint_path(signalled.results_dir, "cifar", key)
    deadline = time.time() + 300
    while not ckpt.exists():  # at least one epoch done, the run still in progress
        assert time.time() < deadline, "no checkpoint appeared"
        assert not layout.result_path(signalled.results_dir, "cifar", key).exists(), (
            "run ended before the signal"
        )
        time.sleep(0.2)
    subprocess.run(["scancel", "--signal=USR2", job["job_id"]], check=True)
    _wait(signalled)
    _wait(straight)
    a = pd.read_parquet(layout.result_path(signalled.results_dir, "cifar", key)).iloc[0]
    b = pd.read_parquet(layout.result_path(straight.results_dir, "cifar", key)).iloc[0]
    assert a["status"] == b["status"] == "ok" and a["epochs_done"] == 4
    for column in ("final_loss", "top1_err", "top5_err"):
        assert a[column] == b[column], column
    log = Path(job["stderr"]).with_name(Path(job["stderr"]).name.replace(".err", ".out")).read_text()
    err = Path(job["stderr"]).read_text()
    assert "Caught signal SIGUSR2" in err or "Caught signal USR2" in err
    assert f"run {key}: resuming after epoch" in log  # the requeued job continued the checkpoint


def test_a_killed_worker_leaves_nothing_that_is_read(tmp_path, cluster):
    study = load_study(_one_run_study(tmp_path, cluster, epochs=12, n_train=1280))
    (key,) = current_plan(study)["run_key"]
    folder = layout.runs_dir(study.results_dir, "cifar")
    folder.mkdir(parents=True)
    (folder / f".{key}.parquet.tmp-999").write_bytes(b"PAR1 half a row")  # what a killed writer leaves
    launch(study, out=lambda line: None)
    (job,) = launch_records(study.results_dir)[0]["jobs"]
    ckpt = layout.checkpoint_path(study.results_dir, "cifar", key)
    _wait_for_checkpoint(ckpt)
    subprocess.run(["scancel", job["job_id"]], check=True)  # cancelled: killed, not requeued
    _wait(study)
    assert layout.finished_keys(study.results_dir, "cifar") == set()
    table, failures, _ = study_status(study)
    assert table["done"].tolist() == [0] and table["failed"].tolist() == [1]
    assert failures[0]["error"]  # the last line of the job's stderr, e.g. "srun: error: vm: task 0: Killed"
    assert collect(study).table.empty
    launch(study, out=lambda line: None)  # the killed chunk is submitted again and resumes
    _wait(study)
    rows = collect(study).table
    assert rows["run_key"].tolist() == [key] and rows["status"].tolist() == ["ok"]


def _scontrol_job(job_id: str) -> str:
    return subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True).stdout


def test_the_studys_executor_keys_override_the_cluster_profile(tmp_path, cluster):
    """The profile (slurm/profiles/local-test.yaml) asks array_parallelism 2 and its own time; the study asks
    1 and 3 minutes: the submitted array must be throttled to 1 (%1) with the study's time limit."""
    path = _slurm_study(tmp_path, cluster, runs_per_job=1)
    raw = yaml.safe_load(path.read_text())
    raw["executor"].update(array_parallelism=1, timeout_min=3)
    path.write_text(yaml.safe_dump(raw))
    study = load_study(path)
    profile = yaml.safe_load(PROFILE.read_text())
    params = slurm_parameters(study.executor, profile, job_name="t")
    assert params["array_parallelism"] == 1 and params["time"] == 3
    record = launch(study, out=lambda line: None)
    try:
        text = _scontrol_job(record["jobs"][0]["job_id"].split("_")[0])
        assert "ArrayTaskThrottle=1" in text and "TimeLimit=00:03:00" in text
    finally:
        _wait(study)


def test_when_submitit_gives_up_requeueing_no_further_run_of_the_chunk_starts(tmp_path, cluster):
    """max_num_timeout 0: the first timeout signal ends the job (UncompletedJobError propagates); the chunk's
    second run is never started, and status names the reason."""
    path = _one_run_study(tmp_path, cluster, epochs=12, n_train=1280)
    raw = yaml.safe_load(path.read_text())
    raw["executor"].update(max_num_timeout=0, runs_per_job=2, timeout_min=2)
    path.write_text(yaml.safe_dump(raw))
    two = pq.read_table(tmp_path / "results" / "tiny" / "architectures.parquet")
    from tests.pipeline.fanout_support import TINY_ARCHS, tiny_space, write_architectures

    write_architectures(
        tmp_path / "results" / "tiny", [TINY_ARCHS[2], TINY_ARCHS[1]], space=tiny_space(tmp_path)
    )
    assert two.num_rows == 1
    study = load_study(path)
    first, second = current_plan(study)["run_key"]
    launch(study, out=lambda line: None)
    (job,) = launch_records(study.results_dir)[0]["jobs"]
    ckpt = layout.checkpoint_path(study.results_dir, "cifar", first)
    _wait_for_checkpoint(ckpt)
    subprocess.run(["scancel", "--signal=USR2", job["job_id"]], check=True)
    _wait(study)
    assert layout.finished_keys(study.results_dir, "cifar") == set()
    assert not layout.checkpoint_path(study.results_dir, "cifar", second).exists()  # never started
    assert not layout.failure_path(study.results_dir, "cifar", first).exists()  # not a run failure
    table, failures, _ = study_status(study)
    assert table["failed"].tolist() == [2]
    assert "not requeued" in failures[0]["error"]


def test_status_tells_requeued_and_cancelled_chunks_apart(tmp_path, cluster):
    """A requeued job held pending counts as pending (requeued); a chunk cancelled before it started is a
    relaunch, not pending forever."""
    path = _one_run_study(tmp_path, cluster, epochs=12, n_train=1280)
    write_architectures(
        tmp_path / "results" / "tiny", [TINY_ARCHS[2], TINY_ARCHS[1]], space=tiny_space(tmp_path)
    )
    raw = yaml.safe_load(path.read_text())
    raw["executor"].update(array_parallelism=1, runs_per_job=1)
    path.write_text(yaml.safe_dump(raw))
    study = load_study(path)
    first, _ = current_plan(study)["run_key"]
    launch(study, out=lambda line: None)
    jobs_ = launch_records(study.results_dir)[0]["jobs"]
    running, waiting = (j["job_id"] for j in jobs_)
    subprocess.run(["scancel", waiting], check=True)  # chunk 1, still pending behind the %1 throttle
    ckpt = layout.checkpoint_path(study.results_dir, "cifar", first)
    _wait_for_checkpoint(ckpt)
    subprocess.run(["scancel", "--signal=USR2", running], check=True)
    held = False
    deadline = time.time() + 60
    while time.time() < deadline and not held:
        state = (squeue_states() or {}).get(running)
        if state in ("PENDING", "REQUEUED"):
            held = subprocess.run(["scontrol", "hold", running], capture_output=True).returncode == 0
        time.sleep(0.05)
    assert held, "the requeued job was never seen pending"
    try:
        table, _, _ = study_status(study)
        row = table.iloc[0]
        assert (row["pending"], row["requeued"], row["relaunch"], row["running"]) == (1, 1, 1, 0)
    finally:
        subprocess.run(["scontrol", "release", running], check=False)
    _wait(study)
    table, _, _ = study_status(study)
    assert table.iloc[0]["done"] == 1 and table.iloc[0]["relaunch"] == 1
