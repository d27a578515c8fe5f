"""One run on CPU: a result row, determinism, divergence, checkpoint/resume equal to an uninterrupted run."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from pipeline import runs
from pipeline.study import load_study
from pipeline.train import RESULT_COLUMNS, train_run
from tests.pipeline.fanout_support import make_tiny_study


class Interrupted(Exception):
    pass


@pytest.fixture
def setup(tmp_path):
    study = load_study(make_tiny_study(tmp_path, epochs=2))
    task = study.tasks["cifar"]
    archs = runs.read_architectures(study)
    arch = runs.arch_dict(archs.to_dict("records")[1], study)
    store = runs.open_task_store(study, task)
    return study, task, arch, store


def _train(setup, results_dir, key="k1", **kwargs):
    study, task, arch, store = setup
    task = kwargs.pop("task", task)
    return train_run(
        arch,
        task,
        store,
        run_key=key,
        arch_id=1,
        seed=0,
        results_dir=results_dir,
        study_name=study.name,
        device="cpu",
        **kwargs,
    )


def test_a_run_writes_one_row_and_its_history(setup, tmp_path):
    row = _train(setup, tmp_path / "a")
    files = sorted(p.name for p in runs.runs_dir(tmp_path / "a", "cifar").iterdir())
    assert files == ["k1.history.parquet", "k1.parquet"]
    table = pd.read_parquet(runs.result_path(tmp_path / "a", "cifar", "k1"))
    assert tuple(table.columns) == RESULT_COLUMNS and len(table) == 1
    assert row["status"] == "ok" and 0 <= row["top1_err"] <= 100 and row["top5_err"] <= row["top1_err"]
    assert row["error"] == row["top1_err"] and row["num_classes"] == 10 and row["epochs_done"] == 2
    assert row["flops"] > 0 and row["params"] > 0 and row["images_per_second"] > 0
    history = pd.read_parquet(runs.history_path(tmp_path / "a", "cifar", "k1"))
    assert history["epoch"].tolist() == [0, 1] and history["lr"].iloc[-1] < 0.05  # cosine went down
    assert not runs.checkpoint_path(tmp_path / "a", "cifar", "k1").exists()  # dropped once finished


def test_same_seed_same_result(setup, tmp_path):
    a = _train(setup, tmp_path / "a")
    b = _train(setup, tmp_path / "b")
    assert (a["final_loss"], a["top1_err"], a["top5_err"]) == (b["final_loss"], b["top1_err"], b["top5_err"])


def test_resumed_run_ends_like_an_uninterrupted_one(setup, tmp_path):
    straight = _train(setup, tmp_path / "a")

    def stop(epoch):
        raise Interrupted(epoch)

    with pytest.raises(Interrupted):
        _train(setup, tmp_path / "b", on_epoch_end=stop)
    assert runs.checkpoint_path(tmp_path / "b", "cifar", "k1").is_file()
    assert not runs.result_path(tmp_path / "b", "cifar", "k1").exists()
    resumed = _train(setup, tmp_path / "b")
    assert resumed["epochs_done"] == 2
    for column in ("final_loss", "top1_err", "top5_err"):
        assert resumed[column] == straight[column], column
    history = pd.read_parquet(runs.history_path(tmp_path / "b", "cifar", "k1"))
    assert history["epoch"].tolist() == [0, 1]


def test_an_absurd_learning_rate_ends_as_diverged(setup, tmp_path):
    _, task, _, _ = setup
    wild = dataclasses.replace(task, recipe=dataclasses.replace(task.recipe, lr=1e12, schedule="constant"))
    row = _train(setup, tmp_path / "a", task=wild)
    assert row["status"] == "diverged" and math.isnan(row["error"])
    table = pd.read_parquet(runs.result_path(tmp_path / "a", "cifar", "k1"))
    assert table["status"].tolist() == ["diverged"]


def test_per_epoch_schedule_and_warmup(setup, tmp_path):
    _, task, _, _ = setup
    recipe = dataclasses.replace(task.recipe, schedule_unit="epoch", warmup_epochs=1.0)
    _train(setup, tmp_path / "a", task=dataclasses.replace(task, recipe=recipe))
    history = pd.read_parquet(runs.history_path(tmp_path / "a", "cifar", "k1"))
    assert history["lr"].tolist()[0] == pytest.approx(0.0)  # warm-up starts at lr_min
