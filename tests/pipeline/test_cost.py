"""Cost estimates: calibrated on T22's total, exact counts once a dataset is prepared, linear in epochs;
ladder rungs costed exactly and monotone in each factor; collect writes costs.parquet."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from anynet import Arch, complexity
from pipeline.collect import collect
from pipeline.cost import estimate, format_estimate, task_images
from pipeline.data.store import open_store, write_store
from pipeline.launch import current_plan
from pipeline.layout import read_architectures
from pipeline.run import prepare_derived_stores
from pipeline.study import load_study
from pipeline.taskdata import forget_stores
from tests.pipeline.fanout_support import make_tiny_study


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


# ------------------------------------------------------------------------------ the ladder (issue 14 §2)
def _ladder_study(tmp_path, *, derive=False, **extra):
    """The tiny study (16-px random stores) with cifar at 3 epochs and a ladder of it on every factor
    (with `derive`, the 8 and 12 px stores are made, as `run` makes them)."""
    path = make_tiny_study(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["tasks"]["cifar"]["recipe"]["epochs"] = 3
    raw["ladder"] = {"of": "cifar", "resolution": [8, 12], "epochs": [1, 2], "fraction": [0.25, 0.5]}
    raw.update(extra)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    study = load_study(path)
    if derive:
        prepare_derived_stores(study, out=lambda line: None)
    return study


def _train_counts(study, dataset):
    """Training rows per class of a prepared store, read straight from its index."""
    store = open_store(study.data_root / dataset)
    return np.bincount(store.labels[store.splits == "train"], minlength=store.num_classes)


def test_ladder_costs_are_exact_and_monotone_in_each_factor(tmp_path):
    study = _ladder_study(tmp_path)
    archs = read_architectures(study)
    table = estimate(study, archs).set_index("task")
    full = table.loc["cifar"]
    # Each factor: cheaper rung < dearer rung < the full task.
    for rungs in (["cifar@r8", "cifar@r12"], ["cifar@e1", "cifar@e2"], ["cifar@f0.25", "cifar@f0.5"]):
        macs = [table.loc[r, "total_macs"] for r in rungs] + [full["total_macs"]]
        assert macs == sorted(macs) and len(set(macs)) == 3, rungs
        assert (table.loc[rungs, "gpu_hours"] < full["gpu_hours"]).all()
    # Resolution: the rung's crop, MACs counted layer by layer at that size (anynet.complexity).
    for size in (8, 12):
        row = table.loc[f"cifar@r{size}"]
        expected = np.mean(
            [
                complexity(Arch.from_row(a), im_size=size, num_classes=10)["flops"]
                for a in archs.to_dict("records")
            ]
        )
        assert row["crop"] == size and row["mean_mmacs"] == pytest.approx(expected / 1e6, rel=1e-12)
        assert (row["train_images"], row["eval_images"]) == (full["train_images"], full["eval_images"])
    assert full["crop"] == 16
    # Epochs: the training part is linear in epochs, evaluation once per run.
    e1, e2 = table.loc["cifar@e1", "total_macs"], table.loc["cifar@e2", "total_macs"]
    assert full["total_macs"] - e2 == pytest.approx(e2 - e1, rel=1e-12)
    # Fraction: each class keeps max(1, round(f·n_c)) training rows (pipeline.data.variants), val whole.
    per_class = _train_counts(study, "cifar10")
    assert full["train_images"] == per_class.sum()
    for f in (0.25, 0.5):
        kept = sum(max(1, round(f * n)) for n in per_class if n)
        row = table.loc[f"cifar@f{f}"]
        assert row["train_images"] == kept and row["eval_images"] == full["eval_images"]
        assert row["counted"]


def test_a_made_resolution_store_counts_the_same_rows(tmp_path):
    study = _ladder_study(tmp_path)
    before = estimate(study, read_architectures(study)).set_index("task")
    prepare_derived_stores(study, out=lambda line: None)
    forget_stores()
    after = estimate(study, read_architectures(study)).set_index("task")
    pd.testing.assert_frame_equal(before, after)


def test_runs_and_costs_follow_the_plan_with_replicates(tmp_path):
    study = _ladder_study(tmp_path, derive=True, replicates={"archs": 2, "seeds": [5], "tasks": ["cifar"]})
    archs = read_architectures(study)
    table = estimate(study, archs).set_index("task")
    planned = current_plan(study).groupby("task").size()
    assert table["runs"].to_dict() == planned.to_dict()
    assert table.loc["cifar", "runs"] == 3 + 2 and table.loc["power", "runs"] == 3
    single = estimate(dataclasses.replace(study, replicates=None), archs).set_index("task")
    assert table.loc["power", "total_macs"] == single.loc["power", "total_macs"]
    assert (
        single.loc["cifar", "total_macs"]
        < table.loc["cifar", "total_macs"]
        < 2 * single.loc["cifar", "total_macs"]
    )


def test_collect_writes_costs_parquet_in_the_contract_types(tmp_path):
    study = _ladder_study(tmp_path, derive=True)
    collect(study, out=lambda line: None)
    path = study.results_dir / "costs.parquet"
    schema = pq.read_schema(path)
    assert [(f.name, str(f.type)) for f in schema] == [
        ("task", "string"), ("runs", "int64"), ("epochs", "int64"), ("train_images", "int64"),
        ("eval_images", "int64"), ("crop", "int64"), ("mean_mmacs", "double"), ("total_macs", "double"),
        ("gpu_hours", "double"),
    ]  # fmt: skip
    written = pd.read_parquet(path)
    expected = estimate(study, read_architectures(study))
    assert written["task"].tolist() == list(study.tasks)
    np.testing.assert_allclose(written["total_macs"], expected["total_macs"], rtol=0)
    assert written["runs"].tolist() == expected["runs"].tolist()
