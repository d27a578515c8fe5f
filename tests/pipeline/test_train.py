"""One run on CPU: a result row, determinism, divergence, checkpoint/resume equal to an uninterrupted run."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from anynet import Arch, build_model
from pipeline import layout
from pipeline.study import load_study
from pipeline.taskdata import TaskData
from pipeline.train import make_optimizer, make_scheduler, precise_bn, train_run
from tests.pipeline.fanout_support import make_tiny_study

runs = layout  # the paths below are the ledger's


class Interrupted(Exception):
    pass


@pytest.fixture
def setup(tmp_path):
    study = load_study(make_tiny_study(tmp_path, epochs=2))
    task = study.tasks["cifar"]
    archs = layout.read_architectures(study)
    arch = Arch.from_row(archs.to_dict("records")[1])
    return study, task, arch, None


def _train(setup, results_dir, key="k1", **kwargs):
    study, task, arch, _ = setup
    task = kwargs.pop("task", task)
    return train_run(
        arch,
        task,
        TaskData(study, task, "cpu"),
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
    assert tuple(table.columns) == layout.RESULT_COLUMNS and len(table) == 1
    assert pq.read_schema(runs.result_path(tmp_path / "a", "cifar", "k1")) == layout.result_schema()
    assert table["variant"].isna().all()  # a whole-store task: a real null, not the text "null"
    assert row["threads"] == torch.get_num_threads() >= 1
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


def test_per_epoch_cosine_matches_pycls(setup):
    """pycls's get_epoch_lr (lr_fun_cos): epoch e of E trains at base · (1 + cos(π·e/E)) / 2."""
    _, task, arch, _ = setup
    recipe = dataclasses.replace(task.recipe, schedule_unit="epoch", epochs=5, lr=0.1, lr_min=0.0)
    model = build_model(arch, 10)
    optimizer = make_optimizer(model, recipe)
    scheduler = make_scheduler(optimizer, recipe, steps_per_epoch=7)
    seen = []
    for epoch in range(recipe.epochs):
        scheduler.step(epoch)  # what train_epoch does at the start of each epoch
        seen.append(optimizer.param_groups[0]["lr"])
    expected = [0.1 * 0.5 * (1.0 + np.cos(np.pi * e / 5)) for e in range(5)]
    assert seen == pytest.approx(expected, rel=1e-12)


def test_precise_bn_replaces_running_statistics_by_the_batch_average(setup):
    study, task, arch, _ = setup
    data = TaskData(study, task, "cpu")
    torch.manual_seed(0)
    model = build_model(arch, 10)
    bn = model.stem.bn
    before = bn.running_mean.clone()
    used = precise_bn(model, data.train_loader(0), 2, epoch=5, device="cpu")
    assert used == 2 and not torch.equal(before, bn.running_mean)
    # by hand: the mean of the two batches' per-channel means of the stem conv's output
    loader = data.train_loader(0)
    loader.set_epoch(5)
    means = []
    with torch.no_grad():
        for i, (inputs, _) in enumerate(loader):
            if i == 2:
                break
            means.append(model.stem.conv(inputs).mean(dim=(0, 2, 3)))
    assert torch.allclose(bn.running_mean, torch.stack(means).mean(0), atol=1e-5)
    assert bn.momentum == 0.1  # restored


def test_kept_weights_rebuild_the_model(setup, tmp_path):
    from safetensors.torch import load_file

    study, task, arch, _ = setup
    row = _train(setup, tmp_path / "a", keep_weights=True)
    path = layout.weights_path(tmp_path / "a", "cifar", "k1")
    model = build_model(arch, 10)
    model.load_state_dict(load_file(str(path)))
    from pipeline.train import evaluate

    top1, _ = evaluate(
        model.to(memory_format=torch.channels_last), TaskData(study, task, "cpu").val_loader(), "cpu"
    )
    assert top1 == pytest.approx(row["top1_err"])
