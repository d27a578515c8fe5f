"""Cost estimates: calibrated on T22's total, exact counts once a dataset is prepared, linear in epochs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pipeline.cost import estimate, format_estimate, task_images
from pipeline.data.store import write_store
from pipeline.study import load_study


def test_paper_study_lands_near_t22s_85_v100_days():
    table = estimate(load_study("paper"))
    days = table["gpu_hours"].sum() / 24
    assert 70 <= days <= 100  # T22: 7,500 trainings in 85 V100-days; paper.yaml has 7,000
    imagenet = table.set_index("task").loc["imagenet"]
    assert imagenet["mean_mmacs"] == pytest.approx(380, abs=20)  # the 360-400 MF band at 224 px
    assert imagenet["gpu_hours"] > table.set_index("task").loc["cifar10", "gpu_hours"] * 100
    assert "GPU-days" in format_estimate(table, 1.4e12)


def test_cost_is_linear_in_epochs_and_variants_shrink_imagenet():
    study = load_study("paper")
    base = estimate(study).set_index("task")
    longer = dataclasses.replace(
        study,
        tasks={
            name: dataclasses.replace(t, recipe=dataclasses.replace(t.recipe, epochs=2 * t.recipe.epochs))
            for name, t in study.tasks.items()
        },
    )
    doubled = estimate(longer).set_index("task")
    eval_part = 2 * base["gpu_hours"] - doubled["gpu_hours"]  # base = T + E, doubled = 2T + E
    assert (eval_part > 0).all()
    share = eval_part / base["gpu_hours"]  # evaluation: 1 forward pass per val image, once per run
    assert share["imagenet"] < 0.002  # 50k val vs 10 epochs x 1.28M x 3
    assert share["imagenet-1000-10"] == pytest.approx(50_000 / (10 * 10_000 * 3 + 50_000), rel=1e-6)
    assert base.loc["imagenet-10", "train_images"] == pytest.approx(
        base.loc["imagenet", "train_images"] / 100, rel=0.01
    )
    assert base.loc["imagenet-1000-10", "train_images"] == 10_000


def test_prepared_store_gives_exact_counts(tmp_path, rng):
    study = dataclasses.replace(load_study("demo"), data_root=tmp_path)
    n = 20
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    write_store(
        tmp_path / "synth-shapes",
        images,
        np.arange(n) % 5,
        ["train"] * 15 + ["val"] * 5,
        ["circle", "square", "triangle", "cross", "ring"],
        name="synth-shapes",
    )
    counted = task_images(study, study.tasks["shapes"])
    assert (counted.train, counted.eval, counted.num_classes, counted.exact) == (15, 5, 5, True)
    estimated = task_images(study, study.tasks["textures"])
    assert not estimated.exact and estimated.num_classes == 12
