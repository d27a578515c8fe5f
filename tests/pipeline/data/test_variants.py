"""Variants: ImageNet-X class lists (remapped labels), capped and balanced training sets, as views."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from pipeline.data.catalogue import CATALOGUE_DIR
from pipeline.data.store import write_store
from pipeline.data.variants import draw_imagenet_x, main, open_dataset, read_class_list
from pipeline.errors import DatasetError

from . import raw_fixtures as raw


@pytest.fixture
def imagenet_like(tmp_path, rng):
    classes = ["n01", "n02", "n03", "n04"]
    counts = [30, 12, 7, 5]
    labels = np.repeat(np.arange(4), counts)
    labels = np.concatenate([labels, np.repeat(np.arange(4), 2)])
    splits = ["train"] * sum(counts) + ["val"] * 8
    images = rng.integers(0, 256, size=(len(labels), 4, 4, 3), dtype=np.uint8)
    write_store(tmp_path / "data" / "toy", images, labels, splits, classes, name="toy",
                split={"policy": "official"})  # fmt: skip
    return tmp_path / "data"


def test_class_list_restricts_and_remaps_in_list_order(imagenet_like, tmp_path):
    (tmp_path / "two.txt").write_text("# comment\nn03\nn01\n")
    whole = open_dataset(imagenet_like, "toy", None)
    sub = open_dataset(imagenet_like, "toy", {"classes": str(tmp_path / "two.txt")})
    assert sub.classes == ["n03", "n01"] and sub.num_classes == 2
    train = sub.split_indices("train")
    assert Counter(sub.labels[train].tolist()) == {0: 7, 1: 30}
    assert (whole.labels[train] == np.where(sub.labels[train] == 0, 2, 0)).all()
    assert len(sub.split_indices("val")) == 4
    assert isinstance(sub.images, np.memmap) and sub.images.shape == whole.images.shape  # a view, no copy
    assert sub.fingerprint != whole.fingerprint and sub.meta["num_images"] == 41
    assert sub.mean == whole.mean  # parent statistics kept (documented)


def test_max_per_class_and_balanced_are_seeded_and_touch_only_train(imagenet_like):
    capped = open_dataset(imagenet_like, "toy", {"max_per_class": 10})
    train = capped.split_indices("train")
    assert Counter(capped.labels[train].tolist()) == {0: 10, 1: 10, 2: 7, 3: 5}
    assert len(capped.split_indices("val")) == 8
    again = open_dataset(imagenet_like, "toy", {"max_per_class": 10})
    np.testing.assert_array_equal(again.split_indices("train"), train)
    other = open_dataset(imagenet_like, "toy", {"max_per_class": 10, "seed": 1})
    assert (other.split_indices("train") != train).any() and other.fingerprint != capped.fingerprint
    balanced = open_dataset(imagenet_like, "toy", {"balanced": True})
    assert Counter(balanced.labels[balanced.split_indices("train")].tolist()) == {0: 12, 1: 12, 2: 7, 3: 5}


def test_bad_variants_are_clear(imagenet_like, tmp_path):
    with pytest.raises(DatasetError, match="unknown variant keys"):
        open_dataset(imagenet_like, "toy", {"clases": "x.txt"})
    (tmp_path / "bad.txt").write_text("n09\n")
    with pytest.raises(DatasetError, match=r"classes \['n09'\] are not in 'toy'"):
        open_dataset(imagenet_like, "toy", {"classes": str(tmp_path / "bad.txt")})
    with pytest.raises(DatasetError, match="no prepared dataset"):
        open_dataset(imagenet_like, "nothing", None)


def test_committed_imagenet_x_lists_are_the_seeded_draw():
    lists = {k: read_class_list(f"imagenet_x/imagenet-{k}.txt") for k in (100, 10, 5, 2)}
    assert {k: len(v) for k, v in lists.items()} == {100: 100, 10: 10, 5: 5, 2: 2}
    assert set(lists[2]) < set(lists[5]) < set(lists[10]) < set(lists[100])  # nested
    header = (CATALOGUE_DIR / "imagenet_x" / "imagenet-10.txt").read_text().splitlines()[0]
    assert "seed 0" in header
    if raw.MAP_CLSLOC.is_file():
        from pipeline.data.c17 import load_class_map

        drawn = draw_imagenet_x(load_class_map(raw.MAP_CLSLOC), (100, 10, 5, 2), seed=0)
        assert drawn == lists


def test_draw_cli_writes_lists_with_header(tmp_path):
    map_path = raw.class_map(tmp_path / "map.txt", [f"n{i:08d}" for i in range(20)])
    assert main(["draw-imagenet-x", "--k", "5", "2", "--seed", "7", "--map", str(map_path),
                 "--out", str(tmp_path / "x")]) == 0  # fmt: skip
    five = (tmp_path / "x" / "imagenet-5.txt").read_text()
    assert five.startswith("# ImageNet-5: 5 of the 20 ILSVRC2012 classes, drawn with seed 7")
    assert (
        read_class_list(tmp_path / "x" / "imagenet-5.txt")
        == draw_imagenet_x([f"n{i:08d}" for i in range(20)], (5,), seed=7)[5]
    )
