"""Bring your own dataset: an imagefolder catalogue entry, a task in a study, its correlations with an
ImageNet stand-in and ImageNet-X proxies, all on generated data through the real prepare/launch/report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from pipeline.data import prepare
from pipeline.data.catalogue import CATALOGUE_DIR
from pipeline.data.store import write_store
from pipeline.data.synthetic import make_synthetic
from pipeline.data.variants import read_class_list
from pipeline.run import run_study
from pipeline.study import load_study

pytestmark = pytest.mark.slow  # trains for real: tens of seconds


def _image_folder(root: Path) -> None:
    """A user's dataset as they hold it: DIR/<class>/*.png."""
    images, labels, classes = make_synthetic("counting", 150, 0, 32, seed=1)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        if label < 3:
            folder = root / classes[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"img{i:04d}.png")


def _imagenet_stand_in(data_root: Path) -> list[str]:
    """A tiny store named imagenet whose classes are the wnids of ImageNet-10, so the ImageNet-X
    variants (imagenet-5, imagenet-2: nested subsets) select real class lists from it."""
    wnids = read_class_list("imagenet_x/imagenet-10.txt")
    images, labels, _ = make_synthetic("textures", 480, 120, 32, seed=2)
    keep = labels < 10
    splits = np.array(["train"] * 480 + ["val"] * 120)[keep]
    write_store(data_root / "imagenet", images[keep], labels[keep], splits, wnids, name="imagenet")
    return wnids


def test_own_imagefolder_dataset_gets_correlations_with_imagenet_and_proxies(tmp_path):
    source, data_root = tmp_path / "flowers", tmp_path / "data"
    _image_folder(source)
    _imagenet_stand_in(data_root)
    entry = yaml.safe_load((CATALOGUE_DIR / "imagefolder.yaml").read_text())
    entry.update(name="flowers", resolution=32, recipe={"epochs": 1, "metric": "top1"})
    (tmp_path / "my").mkdir()
    (tmp_path / "my" / "flowers.yaml").write_text(yaml.safe_dump(entry))

    argv = [str(tmp_path / "my" / "flowers.yaml"), "--source", str(source), "--data-root", str(data_root)]
    assert prepare.main([*argv, "--workers", "1"]) == 0

    recipe = {"epochs": 1, "metric": "top1"}
    study_file = tmp_path / "study.yaml"
    study_file.write_text(
        yaml.safe_dump(
            {
                "name": "byod",
                "data_root": str(data_root),
                "results_dir": str(tmp_path / "results"),
                "space": {"n": 4, "seed": 0, "flops_mf": [20, 40], "strides": [1, 2, 2, 2]},
                "reference": "imagenet",
                "recipe": {"lr": 0.1, "batch_size": 32},
                "tasks": {
                    "imagenet": {"dataset": "imagenet", "role": "reference", "recipe": recipe},
                    "imagenet-5": {
                        "dataset": "imagenet",
                        "variant": {"classes": "imagenet_x/imagenet-5.txt"},
                        "role": "proxy",
                        "recipe": recipe,
                    },
                    "imagenet-2": {
                        "dataset": "imagenet",
                        "variant": {"classes": "imagenet_x/imagenet-2.txt"},
                        "role": "proxy",
                        "recipe": recipe,
                    },
                    "flowers": {"dataset": "my/flowers.yaml", "proxy": "imagenet-2"},  # path beside the study
                },
                "executor": {"kind": "debug", "runs_per_job": 4},
            },
            sort_keys=False,
        )
    )

    study = load_study(study_file)
    assert study.tasks["flowers"].dataset == "flowers"
    assert study.tasks["flowers"].recipe.epochs == 1  # from the user's catalogue entry
    html, complete = run_study(study, out=lambda line: None)
    assert complete

    runs = pd.read_parquet(tmp_path / "results" / "runs.parquet")
    assert len(runs) == 16 and set(runs["status"]) == {"ok"}
    assert set(runs.groupby("task")["num_classes"].first().items()) == {
        ("imagenet", 10),
        ("imagenet-5", 5),
        ("imagenet-2", 2),
        ("flowers", 3),
    }
    pairs = pd.read_parquet(tmp_path / "results" / "tables" / "correlations.parquet")
    mine = pairs[(pairs["task_a"] == "flowers") | (pairs["task_b"] == "flowers")]
    assert len(mine) == 3 and (mine["n"] == 4).all()
    assert mine["spearman"].between(-1, 1).all()
    targets = pd.read_parquet(tmp_path / "results" / "tables" / "targets.parquet").set_index("target")
    assert targets.loc["flowers", "matched_proxy"] == "imagenet-2"
    assert "On flowers (3 classes, n = 4)" in html.read_text()
