"""Every raw format, written in its real layout by the test, prepared into a store: counts, labels, class
order, splits and pixel values."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from pipeline.data import c17
from pipeline.data.catalogue import load_entry
from pipeline.data.prepare import prepare_dataset
from pipeline.data.readers.images import FILTERS

from . import raw_fixtures as raw


def _prepare(name_or_entry, source, out, **kwargs):
    entry = load_entry(name_or_entry) if isinstance(name_or_entry, str) else name_or_entry
    return prepare_dataset(entry, source, out, workers=1, log=lambda line: None, **kwargs).store


def _rows(store):
    return {sid: i for i, sid in enumerate(store.source_ids)}


def test_imagefolder_concrete(tmp_path):
    expected = raw.class_folders(tmp_path / "src", ["Negative", "Positive"], 12, suffix=".jpg", size=(50, 40))
    store = _prepare("concrete", tmp_path / "src", tmp_path / "concrete")
    assert store.classes == ["Negative", "Positive"]
    assert store.images.shape == (24, 227, 227, 3)
    rows = _rows(store)
    for sid, (label, rgb) in expected.items():
        assert store.labels[rows[sid]] == label
        assert np.abs(store.images[rows[sid]].astype(int) - rgb).max() <= 3  # JPEG of a solid colour
    # round(0.1 * 12) = 1 val image per class, seeded, recorded
    assert Counter(zip(store.labels, store.splits, strict=True))[(0, "val")] == 1
    assert Counter(zip(store.labels, store.splits, strict=True))[(1, "val")] == 1
    assert store.meta["split"] == {"policy": "holdout", "seed": 0, "fraction": 0.1}


def test_imagefolder_user_yaml_with_official_split_and_recursive(tmp_path):
    src = tmp_path / "src"
    raw.class_folders(src / "train", ["roses", "tulips"], 3)
    raw.class_folders(src / "val", ["roses", "tulips"], 1)
    raw.solid(src / "train" / "roses" / "deeper" / "x.png", (1, 2, 3))
    yaml_path = tmp_path / "flowers.yaml"
    yaml_path.write_text(
        "name: flowers\nformat: imagefolder\nclasses: null\nresolution: 16\nsplit: {policy: official}\n"
        "recipe: {epochs: 5, metric: top1}\noptions: {recursive: true}\n"
    )
    store = _prepare(str(yaml_path), src, tmp_path / "flowers")
    assert store.classes == ["roses", "tulips"] and len(store.labels) == 9
    assert list(store.splits).count("val") == 2
    assert store.meta["split"] == {"policy": "official"}
    row = _rows(store)["train/roses/deeper/x.png"]
    assert (store.images[row] == (1, 2, 3)).all()


def test_intel_doubled_layout(tmp_path):
    classes = ["buildings", "forest", "glacier", "mountain", "sea", "street"]
    expected = raw.intel(tmp_path / "src", classes)
    raw.solid(tmp_path / "src" / "seg_pred" / "seg_pred" / "1.jpg", (0, 0, 0))  # unlabelled: ignored
    store = _prepare("natural", tmp_path / "src", tmp_path / "natural")
    assert store.classes == classes and store.images.shape == (24, 150, 150, 3)
    rows = _rows(store)
    for sid, (label, rgb) in expected.items():
        assert store.labels[rows[sid]] == label
        assert store.splits[rows[sid]] == ("val" if sid.startswith("seg_test") else "train")
        assert np.abs(store.images[rows[sid]].astype(int) - rgb).max() <= 3


@pytest.mark.parametrize("val_layout", ["devkit", "csv", "folders"])
def test_imagenet_train_folders_and_every_val_layout(tmp_path, val_layout):
    expected = raw.imagenet(tmp_path / "src", val_layout=val_layout)
    entry = replace(load_entry("imagenet"), resolution=24)
    store = _prepare(entry, tmp_path / "src", tmp_path / "imagenet")
    assert store.classes == sorted(raw.WNIDS)  # sorted wnids; the devkit's ID order only labels flat val/
    rows = _rows(store)
    assert set(rows) == set(expected)
    for sid, (label, split, rgb) in expected.items():
        assert (store.labels[rows[sid]], store.splits[rows[sid]]) == (label, split)
        assert np.abs(store.images[rows[sid]].astype(int) - rgb).max() <= 3
    assert Counter(store.splits) == {"train": 9, "val": 6}


def test_imagenet_kaggle_layout(tmp_path):
    raw.imagenet(tmp_path / "src" / "ILSVRC" / "Data" / "CLS-LOC", val_layout="folders")
    entry = replace(load_entry("imagenet"), resolution=8)
    store = _prepare(entry, tmp_path / "src", tmp_path / "imagenet")
    assert len(store.labels) == 15 and store.source_ids[0].startswith("ILSVRC/Data/CLS-LOC/train/")


@pytest.mark.parametrize("kind", ["cifar10", "cifar100"])
def test_cifar_pickles(tmp_path, rng, kind):
    folder = "cifar-10-batches-py" if kind == "cifar10" else "cifar-100-python"
    expected = raw.cifar(tmp_path / "src" / folder,
                         kind, rng)  # fmt: skip
    store = _prepare(kind, tmp_path / "src", tmp_path / kind)
    assert store.classes == expected["classes"]
    assert store.images.shape == (len(expected["rows"]), 32, 32, 3)
    rows = _rows(store)
    for sid, label, split, data in expected["rows"]:
        i = rows[sid]
        assert (store.labels[i], store.splits[i]) == (label, split)
        np.testing.assert_array_equal(store.images[i], data.reshape(3, 32, 32).transpose(1, 2, 0))


def test_c17_files_as_a_dataset_and_imagenet16_120(tmp_path, rng):
    wnids = [f"n{10000000 + i:08d}" for i in range(130)]
    map_path = raw.class_map(tmp_path / "map_clsloc.txt", wnids)
    images = rng.integers(0, 256, size=(300, 16, 16, 3), dtype=np.uint8)
    labels = np.concatenate([np.arange(1, 131), rng.integers(1, 131, size=170)])
    c17.write_c17(
        tmp_path / "files" / "Imagenet16_train", images, labels, np.arange(250), np.array([]), fmt="npz"
    )
    c17.write_c17(
        tmp_path / "files" / "Imagenet16_val", images, labels, np.array([], int), np.arange(250, 300)
    )
    for name in c17.TRAIN_FILES:  # keep train in the npz folder, val (pickle) in the other
        (tmp_path / "files" / "Imagenet16_val" / name).unlink()
    (tmp_path / "files" / "Imagenet16_train" / "val_data.npz").unlink()
    store = _prepare("imagenet16", tmp_path / "files", tmp_path / "i16", class_map=map_path)
    assert store.classes == wnids and Counter(store.splits) == {"train": 250, "val": 50}
    for i in range(len(store.labels)):
        file, row = store.source_ids[i].split("#")
        content = c17.read_file(next((tmp_path / "files").glob(f"*/{file}")))
        np.testing.assert_array_equal(
            store.images[i], c17.from_planar(content["data"][int(row) : int(row) + 1])[0]
        )
        assert store.labels[i] == content["labels"][int(row)] - 1
    sub = _prepare("imagenet16-120", tmp_path / "files", tmp_path / "i16-120", class_map=map_path)
    assert sub.classes == wnids[:120] and sub.labels.max() == 119
    assert len(sub.labels) == int((labels <= 120).sum())


def test_ham10000_metadata_and_two_image_folders(tmp_path):
    expected = raw.ham10000(tmp_path / "src")
    store = _prepare("ham10000", tmp_path / "src", tmp_path / "ham")
    assert store.classes == expected["classes"] and len(store.labels) == 42
    rows = _rows(store)
    for i, r in enumerate(expected["rows"]):
        folder = "HAM10000_images_part_1" if i % 2 else "HAM10000_images_part_2"
        row = rows[f"{folder}/{r['image_id']}.jpg"]
        assert store.classes[store.labels[row]] == r["dx"]
        assert np.abs(store.images[row].astype(int) - raw.colour(i % 7, i % 4)).max() <= 3
    assert Counter(store.splits)["val"] == 7  # round(0.1·6) = 1 per class
    grouped = _prepare("ham10000-lesion", tmp_path / "src", tmp_path / "ham-lesion")
    lesion = {f"{'HAM10000_images_part_1' if i % 2 else 'HAM10000_images_part_2'}/{r['image_id']}.jpg":
              r["lesion_id"] for i, r in enumerate(expected["rows"])}  # fmt: skip
    by_lesion = {}
    for sid, split in zip(grouped.source_ids, grouped.splits, strict=True):
        by_lesion.setdefault(lesion[sid], set()).add(split)
    assert all(len(s) == 1 for s in by_lesion.values())  # no lesion in both splits
    assert 0 < Counter(grouped.splits)["val"] <= 7
    assert grouped.meta["split"]["policy"] == "grouped" and grouped.fingerprint != store.fingerprint


def test_mlc2008_patches_case_merged_off_dropped_padded(tmp_path, rng):
    points = raw.mlc2008(tmp_path / "src", rng)
    store = _prepare("mlc2008", tmp_path / "src", tmp_path / "mlc")
    classes = store.classes
    assert classes == ["Acrop", "CCA", "Macro", "Monti", "Pavon", "Pocill", "Porit", "Sand", "Turf"]
    assert len(store.labels) == 6  # 7 points, one OFF dropped
    assert store.images.shape[1:] == (312, 312, 3)
    rows = _rows(store)
    for rel, pts in points.items():
        photo = np.asarray(Image.open(tmp_path / "src" / rel).convert("RGB"))
        padded = np.zeros((300 + 312, 400 + 312, 3), dtype=np.uint8)
        padded[156 : 156 + 300, 156 : 156 + 400] = photo
        for i, (r, c, label) in enumerate(pts):
            if label.lower() == "off":
                assert f"{rel}#{i}" not in rows
                continue
            row = rows[f"{rel}#{i}"]
            assert classes[store.labels[row]].lower() == label.lower()
            # the point is the patch centre; outside the photo is black
            np.testing.assert_array_equal(store.images[row], padded[r : r + 312, c : c + 312])


def test_resize_filter_is_pillow(tmp_path, rng):
    src = tmp_path / "src"
    pixels = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    for name in ("Negative", "Positive"):
        (src / name).mkdir(parents=True)
        Image.fromarray(pixels).save(src / name / "a.png")
    for filt in ("box", "bicubic"):
        entry = replace(load_entry("concrete"), resolution=20, resize_filter=filt)
        store = _prepare(entry, src, tmp_path / filt)
        want = np.asarray(Image.fromarray(pixels).resize((20, 20), FILTERS[filt]))
        np.testing.assert_array_equal(store.images[0], want)
