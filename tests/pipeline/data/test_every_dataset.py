"""Every catalogue dataset (synthetic ones aside) prepares from a tiny copy of its public layout."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pipeline.data import c17
from pipeline.data.catalogue import list_datasets, load_entry
from pipeline.data.prepare import prepare_dataset

from . import raw_fixtures as raw

REAL = [n for n in list_datasets() if load_entry(n).format != "synthetic"]


def _write_source(entry, root, rng) -> int:
    """Write a tiny source for `entry`; return the number of images prepare must store."""
    fmt = entry.format
    if fmt == "imagefolder":
        classes = list(entry.classes or ["a", "b", "c"])
        raw.class_folders(root, classes, 2, suffix=".jpg")
        return 2 * len(classes)
    if fmt == "intel":
        raw.intel(root, list(entry.classes), 1, 1)
        return 2 * len(entry.classes)
    if fmt == "imagenet":
        raw.imagenet(root, per_class=1, val_per_class=1)
        return 6
    if fmt in ("cifar10", "cifar100"):
        return len(raw.cifar(root, fmt, rng)["rows"])
    if fmt == "ham10000":
        return len(raw.ham10000(root)["rows"])
    if fmt == "mlc2008":
        return sum(1 for pts in raw.mlc2008(root, rng).values() for p in pts if p[2].lower() != "off")
    if fmt == "c17":
        size = entry.options["size"]
        wnids = [f"n{20000000 + i:08d}" for i in range(1000)]
        root.mkdir(parents=True)
        raw.class_map(root / "map_clsloc.txt", wnids)
        images = rng.integers(0, 256, size=(30, size, size, 3), dtype=np.uint8)
        labels = np.array([1, 2, 500, 1000, 120, 121] * 5)
        c17.write_c17(root, images, labels, np.arange(20), np.arange(20, 30), fmt="npz")
        return int((labels <= entry.options.get("max_label", 1000)).sum())
    raise AssertionError(f"no fixture for format {fmt}")


@pytest.mark.parametrize("name", REAL)
def test_every_catalogue_dataset_prepares(tmp_path, rng, name):
    entry = load_entry(name)
    expected = _write_source(entry, tmp_path / "src", rng)
    if entry.format not in ("c17", "cifar10", "cifar100"):
        entry = replace(entry, resolution=12, options={**entry.options, "patch_size": 12})  # keep it tiny
    store = prepare_dataset(entry, tmp_path / "src", tmp_path / name, workers=1, log=lambda line: None).store
    assert len(store.labels) == expected and store.name == name
    assert store.images.shape[1:] == (entry.resolution, entry.resolution, 3)
    assert store.meta["split"]["policy"] == entry.split["policy"]
    assert set(store.splits) <= {"train", "val"} and "train" in set(store.splits)
    if entry.classes is not None:
        assert store.classes == list(entry.classes)
