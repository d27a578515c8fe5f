"""launch: validation before submission, dry run, idempotent re-launch, debug and local executors."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml

from pipeline import runs
from pipeline.__main__ import main as pipeline_main
from pipeline.executors import local_concurrency
from pipeline.launch import launch, launch_records, plan_launch
from pipeline.study import ExecutorSpec, load_study
from tests.pipeline.fanout_support import make_tiny_study


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny study (3 archs x 2 tasks, 1 epoch) trained once on the debug executor."""
    root = tmp_path_factory.mktemp("trained")
    study = load_study(make_tiny_study(root))
    record = launch(study, out=lambda line: None)
    return study, record


def test_debug_launch_trains_every_run(trained):
    study, record = trained
    assert [j["state"] for j in record["jobs"]] == ["done"] * 4  # 2 tasks x 2 chunks of <= 2 runs
    assert sum(len(runs.finished_keys(study.results_dir, t)) for t in study.tasks) == 6
    copy = yaml.safe_load((study.results_dir / "study.yaml").read_text())
    assert copy["tasks"]["cifar"]["recipe"]["epochs"] == 1 and copy["results_dir"].startswith("/")
    assert len(launch_records(study.results_dir)) == 1


def test_relaunching_a_finished_study_submits_nothing(trained, capsys):
    study, _ = trained
    record = launch(study)
    assert record["jobs"] == [] and record["chunks"] == 0
    assert "nothing to submit" in capsys.readouterr().out
    assert len(launch_records(study.results_dir)) == 1  # no new launch record
    assert pipeline_main(["launch", "--study", str(study.source)]) == 0


def test_only_missing_runs_are_resubmitted(tmp_path):
    study = load_study(make_tiny_study(tmp_path, runs_per_job=1))
    launch(study, out=lambda line: None)
    key = sorted(runs.finished_keys(study.results_dir, "power"))[0]
    runs.result_path(study.results_dir, "power", key).unlink()
    lp = plan_launch(study)
    assert lp.chunks == {"power": lp.missing["chunk"].tolist()} and len(lp.missing) == 1
    record = launch(study, out=lambda line: None)
    assert [(j["task"], j["state"]) for j in record["jobs"]] == [("power", "done")]
    assert key in runs.finished_keys(study.results_dir, "power")


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    path = make_tiny_study(tmp_path)
    assert pipeline_main(["launch", "--study", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "6 runs in 4 chunks" in out and "cifar" in out and "power" in out
    results = tmp_path / "results" / "tiny"
    assert sorted(p.name for p in results.iterdir()) == ["architectures.parquet"]


def test_slurm_dry_run_cuts_arrays_under_max_array_size(tmp_path):
    study = load_study(make_tiny_study(tmp_path, runs_per_job=1))
    study = dataclasses.replace(study, executor=ExecutorSpec(kind="slurm", runs_per_job=1, max_array_size=2))
    lp = plan_launch(study)
    assert lp.arrays() == [("cifar", [0, 1]), ("cifar", [2]), ("power", [0, 1]), ("power", [2])]


def _break(path, edit):
    raw = yaml.safe_load(path.read_text())
    edit(raw)
    path.write_text(yaml.safe_dump(raw))


BAD_INPUTS = {
    "unknown dataset": (lambda raw: raw["tasks"]["power"].update(dataset="powerlines"), "powerlines"),
    "missing study key": (lambda raw: raw.pop("reference"), "missing key 'reference'"),
    "recipe of the wrong type": (
        lambda raw: raw["tasks"]["cifar"]["recipe"].update(epochs="ten"),
        "tasks.cifar.recipe.epochs: must be an integer, got 'ten'",
    ),
    "recipe value out of range": (
        lambda raw: raw["recipe"].update(batch_size=0),
        "batch_size: must be at least 1",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_before_any_submission(tmp_path, capsys, case):
    edit, message = BAD_INPUTS[case]
    path = make_tiny_study(tmp_path)
    _break(path, edit)
    assert pipeline_main(["launch", "--study", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert sorted(p.name for p in (tmp_path / "results" / "tiny").iterdir()) == ["architectures.parquet"]


def test_unprepared_dataset_is_refused_with_its_prepare_command(tmp_path, capsys):
    path = make_tiny_study(tmp_path)
    for item in (tmp_path / "data" / "powerline").iterdir():
        item.unlink()
    assert pipeline_main(["launch", "--study", str(path), "--executor", "local"]) == 2
    err = capsys.readouterr().err
    assert "dataset 'powerline' (task power) is not prepared" in err
    assert "python -m pipeline prepare powerline --source DIR" in err
    assert sorted(p.name for p in (tmp_path / "results" / "tiny").iterdir()) == ["architectures.parquet"]


def test_missing_architectures_name_the_sample_command(tmp_path, capsys):
    path = make_tiny_study(tmp_path, archs=False)
    assert pipeline_main(["launch", "--study", str(path)]) == 2
    assert "python -m pipeline sample --study tiny" in capsys.readouterr().err


def test_local_concurrency_is_capped_by_cores():
    spec = ExecutorSpec(array_parallelism=4)
    assert local_concurrency(spec, jobs=10, cores=2) == (2, 1)
    assert local_concurrency(spec, jobs=10, cores=16) == (4, 4)
    assert local_concurrency(spec, jobs=1, cores=16) == (1, 16)


def test_local_executor_runs_chunks_in_subprocesses(tmp_path):
    study = load_study(make_tiny_study(tmp_path, runs_per_job=3))
    record = launch(study, kind="local", out=lambda line: None)
    assert sorted((j["task"], j["state"]) for j in record["jobs"]) == [("cifar", "done"), ("power", "done")]
    assert all(j["job_id"] for j in record["jobs"])
    assert sum(len(runs.finished_keys(study.results_dir, t)) for t in study.tasks) == 6
    saved = json.loads(sorted((study.results_dir / "launches").glob("*.json"))[0].read_text())
    assert saved["executor"] == "local" and len(saved["jobs"]) == 2
