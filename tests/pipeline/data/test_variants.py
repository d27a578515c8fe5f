"""Variants: ImageNet-X class lists (remapped labels), capped, balanced and fractional training sets as
views; resolution variants read a derived store whose pixels are `downsample`'s."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.data import c17, variants
from pipeline.data.catalogue import CATALOGUE_DIR, load_entry
from pipeline.data.downsample import downsample_imagenet
from pipeline.data.prepare import prepare_dataset
from pipeline.data.store import write_store
from pipeline.data.variants import (
    derive_command,
    derived_store_path,
    draw_imagenet_x,
    main,
    make_resolution_store,
    open_dataset,
    read_class_list,
)
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


# ---------------------------------------------------------------- fraction and resolution (the proxy ladder)

LADDER_COUNTS = [30, 10, 7, 5, 1]  # training rows per class; 2 val rows each
LADDER_CLASSES = ["n00000001", "n00000002", "n00000003", "n00000004", "n00000005"]


def _ladder_store(root, rng, size=24):
    labels = np.concatenate([np.repeat(np.arange(5), LADDER_COUNTS), np.repeat(np.arange(5), 2)])
    splits = ["train"] * sum(LADDER_COUNTS) + ["val"] * 10
    images = rng.integers(0, 256, size=(len(labels), size, size, 3), dtype=np.uint8)
    return write_store(root / "toy", images, labels, splits, LADDER_CLASSES, name="toy",
                       split={"policy": "official"})  # fmt: skip


@pytest.fixture
def ladder_root(tmp_path, rng):
    _ladder_store(tmp_path / "data", rng)
    return tmp_path / "data"


def _train_counts(store):
    return Counter(store.labels[store.split_indices("train")].tolist())


def _files(root):
    return sorted((p.relative_to(root).as_posix(), p.stat().st_mtime_ns) for p in root.rglob("*"))


def test_fraction_keeps_the_rounded_share_of_every_class_and_all_of_val(ladder_root):
    sub = open_dataset(ladder_root, "toy", {"fraction": 0.25})
    # max(1, round(0.25·n)), Python's round: 7.5->8, 2.5->2 (half to even), 1.75->2, 1.25->1, 0.25->1
    assert _train_counts(sub) == {0: 8, 1: 2, 2: 2, 3: 1, 4: 1}
    assert len(sub.split_indices("val")) == 10 and sub.classes == LADDER_CLASSES
    whole = open_dataset(ladder_root, "toy", {"fraction": 1})
    assert _train_counts(whole) == dict(enumerate(LADDER_COUNTS))
    assert sub.meta["num_images"] == 14 + 10 and isinstance(sub.images, np.memmap)


def test_fraction_is_seeded_and_nested(ladder_root):
    tenth = open_dataset(ladder_root, "toy", {"fraction": 0.1}).split_indices("train")
    again = open_dataset(ladder_root, "toy", {"fraction": 0.1, "seed": 0}).split_indices("train")
    other = open_dataset(ladder_root, "toy", {"fraction": 0.1, "seed": 1}).split_indices("train")
    half = open_dataset(ladder_root, "toy", {"fraction": 0.5}).split_indices("train")
    np.testing.assert_array_equal(tenth, again)
    assert set(tenth) != set(other) and len(tenth) == len(other)
    assert set(tenth) < set(half)  # one seed: a smaller fraction's rows are among a larger one's


def test_fraction_applies_after_classes_and_caps(ladder_root, tmp_path):
    (tmp_path / "two.txt").write_text("n00000003\nn00000001\n")
    sub = open_dataset(ladder_root, "toy", {"classes": str(tmp_path / "two.txt"), "fraction": 0.5})
    assert _train_counts(sub) == {0: 4, 1: 15}  # 7 -> round(3.5) = 4, 30 -> 15
    assert len(sub.split_indices("val")) == 4
    capped = open_dataset(ladder_root, "toy", {"max_per_class": 10, "fraction": 0.5})
    assert _train_counts(capped) == {0: 5, 1: 5, 2: 4, 3: 2, 4: 1}  # half of [10, 10, 7, 5, 1]


def test_bad_fraction_and_resolution_are_reported_together(ladder_root):
    with pytest.raises(DatasetError) as error:
        open_dataset(ladder_root, "toy", {"fraction": 0, "resolution": 4, "seed": "1", "size": 3})
    for part in ("fraction 0 must be a number in (0, 1]", "resolution 4 must be an integer ≥ 8",
                 "seed '1' must be an integer", "unknown variant keys ['size']"):  # fmt: skip
        assert part in str(error.value)
    for bad in ({"fraction": 1.5}, {"fraction": True}, {"resolution": 16.0}, {"resolution": True}):
        with pytest.raises(DatasetError, match="must be"):
            open_dataset(ladder_root, "toy", bad)
    with pytest.raises(DatasetError, match="from 8 to 23 \\(below the store's 24 px\\)"):
        open_dataset(ladder_root, "toy", {"resolution": 24})


def test_open_without_the_derived_store_names_the_fix_and_writes_nothing(ladder_root):
    before = _files(ladder_root.parent)
    with pytest.raises(DatasetError) as error:
        open_dataset(ladder_root, "toy", {"resolution": 8})
    message = str(error.value)
    assert "no 8-px store derived from it" in message
    assert derive_command("toy", 8, ladder_root) in message
    assert f"derive-resolution toy --size 8 --data-root {ladder_root}" in message
    assert _files(ladder_root.parent) == before


def test_derived_store_is_made_once_from_the_store_alone(ladder_root, monkeypatch):
    parent = open_dataset(ladder_root, "toy")
    lines = []
    store = make_resolution_store(ladder_root, "toy", 8, log=lines.append)
    path = derived_store_path(ladder_root, "toy", 8, parent.fingerprint)
    assert store.path == path and path.relative_to(ladder_root).parts[0] == ".derived"
    assert store.images.shape == (len(parent.labels), 8, 8, 3)
    np.testing.assert_array_equal(store.labels, parent.labels)
    np.testing.assert_array_equal(store.splits, parent.splits)
    np.testing.assert_array_equal(store.source_ids, parent.source_ids)
    files = ("images.npy", "meta.json")
    stamps = {f: ((path / f).stat().st_mtime_ns, (path / f).stat().st_ino) for f in files}
    monkeypatch.setattr(variants, "_resize_rows", lambda *a, **k: pytest.fail("resized again"))
    again = make_resolution_store(ladder_root, "toy", 8, log=lines.append)
    assert "already there" in lines[-1] and again.fingerprint == store.fingerprint
    assert stamps == {f: ((path / f).stat().st_mtime_ns, (path / f).stat().st_ino) for f in stamps}
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_a_derived_store_of_an_older_parent_is_refused_and_remade(ladder_root, tmp_path):
    make_resolution_store(ladder_root, "toy", 8, log=lambda line: None)
    _ladder_store(ladder_root, np.random.default_rng(12345))  # prepared again: other pixels, same rows
    with pytest.raises(DatasetError, match="derive-resolution toy --size 8"):
        open_dataset(ladder_root, "toy", {"resolution": 8})
    remade = make_resolution_store(ladder_root, "toy", 8, log=lambda line: None)
    opened = open_dataset(ladder_root, "toy", {"resolution": 8})
    np.testing.assert_array_equal(opened.images, remade.images)
    parent = open_dataset(ladder_root, "toy")
    np.testing.assert_array_equal(opened.images[0], variants.resize_pixels(np.asarray(parent.images[0]), 8))


def test_fingerprints_tell_every_variant_apart_and_are_stable_across_processes(ladder_root):
    for size in (8, 12):
        make_resolution_store(ladder_root, "toy", size, log=lambda line: None)
    variants_ = [None, {"fraction": 0.1}, {"fraction": 0.25}, {"fraction": 0.1, "seed": 1}, {"resolution": 8},
                 {"resolution": 12}, {"resolution": 8, "fraction": 0.1}, {"max_per_class": 3}]  # fmt: skip
    prints = [open_dataset(ladder_root, "toy", v).fingerprint for v in variants_]
    assert len(set(prints)) == len(prints)
    derived = [variants.open_resolution_store(ladder_root, "toy", s).fingerprint for s in (8, 12)]
    assert not set(derived) & set(prints) and derived[0] != derived[1]
    one = open_dataset(ladder_root, "toy", {"fraction": 1}).fingerprint
    assert one == open_dataset(ladder_root, "toy", {"fraction": 1.0}).fingerprint  # canonical form
    code = (
        "import sys; from pipeline.data.variants import open_dataset; "
        "print(open_dataset(sys.argv[1], 'toy', {'resolution': 8, 'fraction': 0.1}).fingerprint)"
    )
    child = subprocess.run([sys.executable, "-c", code, str(ladder_root)], capture_output=True, text=True,
                           check=True, cwd=Path(__file__).resolve().parents[3])  # fmt: skip
    assert child.stdout.strip() == prints[6]


def _write_png_tree(root, store):
    """The store's images as ImageNet folders: train/<wnid>/t<row>.png, val/<wnid>/v<row>.png."""
    for row in range(len(store.labels)):
        split, wnid = store.splits[row], store.classes[store.labels[row]]
        folder = root / split / wnid
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(store.images[row])).save(folder / f"{split[0]}{row:04d}.png")


@pytest.mark.parametrize("size", [8, 10])
def test_derived_pixels_are_downsamples_and_need_no_raw_files(tmp_path, rng, monkeypatch, size):
    # a raw ImageNet-layout tree of 24-px PNGs, prepared at 24 px (so the store holds exactly the PNG pixels)
    _write_png_tree(tmp_path / "raw", _ladder_store(tmp_path / "seed", rng))
    entry = dataclasses.replace(load_entry("imagenet"), resolution=24)
    prepare_dataset(entry, tmp_path / "raw", tmp_path / "data" / "imagenet", workers=1, log=lambda line: None)
    map_wnids = LADDER_CLASSES[::-1]  # label order of the C17 files differs from the store's
    map_path = raw.class_map(tmp_path / "map_clsloc.txt", map_wnids)
    downsample_imagenet(tmp_path / "raw", tmp_path / "c17", size=size, map_path=map_path, workers=1,
                        log=lambda line: None)  # fmt: skip
    shutil.rmtree(tmp_path / "raw")  # the derived store is made from the prepared store alone
    monkeypatch.setattr(variants, "CHUNK_BYTES", 4 * 24 * 24 * 3)  # several chunks, finished out of order
    make_resolution_store(tmp_path / "data", "imagenet", size, workers=3, log=lambda line: None)
    view = open_dataset(tmp_path / "data", "imagenet", {"resolution": size})
    parent = open_dataset(tmp_path / "data", "imagenet")
    assert view.images.shape[1:] == (size, size, 3) and view.classes == LADDER_CLASSES
    train_files, val_file = c17.find_files(tmp_path / "c17")
    val = c17.read_file(val_file)  # not shuffled: val rows in folder order = the store's val order
    rows = view.split_indices("val")
    np.testing.assert_array_equal(c17.from_planar(val["data"]), view.images[rows])
    assert [map_wnids[k - 1] for k in val["labels"]] == [view.classes[k] for k in view.labels[rows]]
    train_rows = view.split_indices("train")  # shuffled: match every row by its pixels
    by_pixels = {view.images[r].tobytes(): r for r in train_rows}
    assert len(by_pixels) == len(train_rows)
    matched = []
    for path in train_files:
        content = c17.read_file(path)
        for pixels, label in zip(c17.from_planar(content["data"]), content["labels"], strict=True):
            row = by_pixels[pixels.tobytes()]
            assert view.classes[view.labels[row]] == map_wnids[label - 1]
            matched.append(row)
    assert sorted(matched) == sorted(train_rows.tolist())
    if 24 % size == 0:  # an integer ratio: BOX is the mean of each k×k block (Pillow rounds to ±1)
        k = 24 // size
        blocks = np.asarray(parent.images, dtype=float).reshape(-1, size, k, size, k, 3).mean(axis=(2, 4))
        assert np.abs(np.asarray(view.images, dtype=float) - blocks).max() <= 1
