"""The packed store: atomic writes, faithful round trip, clear errors for missing or inconsistent stores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.data.store import channel_mean_std, is_store, open_store, write_store
from pipeline.errors import DatasetError


def _arrays(rng, n=12, size=8, classes=3):
    images = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    labels = np.arange(n) % classes
    splits = np.where(np.arange(n) < n - 3, "train", "val")
    return images, labels, splits


def test_round_trip_keeps_pixels_labels_and_splits(tmp_path, rng):
    images, labels, splits = _arrays(rng)
    store = write_store(tmp_path / "toy", images, labels, splits, ["a", "b", "c"], name="toy")
    again = open_store(tmp_path / "toy")
    np.testing.assert_array_equal(np.asarray(again.images), images)
    np.testing.assert_array_equal(again.labels, labels)
    assert list(again.splits) == list(splits)
    assert again.classes == ["a", "b", "c"] and again.num_classes == 3
    assert store.fingerprint == again.fingerprint
    np.testing.assert_array_equal(again.split_indices("val"), [9, 10, 11])


def test_mean_std_come_from_the_training_split_only(tmp_path):
    images = np.zeros((4, 2, 2, 3), dtype=np.uint8)
    images[3] = 255  # the only val image is white; train images are black
    store = write_store(tmp_path / "s", images, [0, 0, 0, 0], ["train"] * 3 + ["val"], ["x"], name="s")
    assert store.mean == (0.0, 0.0, 0.0)
    mean, std = channel_mean_std(images)
    assert mean == pytest.approx([0.25] * 3) and std == pytest.approx([np.sqrt(0.25 - 0.0625)] * 3)


def test_fingerprint_changes_with_split_seed(tmp_path, rng):
    images, labels, splits = _arrays(rng)
    a = write_store(tmp_path / "a", images, labels, splits, ["a", "b", "c"], name="a", split={"seed": 0})
    b = write_store(tmp_path / "b", images, labels, splits, ["a", "b", "c"], name="b", split={"seed": 1})
    assert a.fingerprint != b.fingerprint


def test_missing_store_names_the_folder_and_the_fix(tmp_path):
    expected = r"no prepared dataset at .*cifar10; run: python -m pipeline prepare"
    with pytest.raises(DatasetError, match=expected):
        open_store(tmp_path / "cifar10")


def test_half_written_store_is_not_a_store(tmp_path, rng):
    images, labels, splits = _arrays(rng)
    write_store(tmp_path / "toy", images, labels, splits, ["a", "b", "c"], name="toy")
    (tmp_path / "toy" / "meta.json").unlink()
    assert not is_store(tmp_path / "toy")
    with pytest.raises(DatasetError):
        open_store(tmp_path / "toy")


def test_inconsistent_index_is_refused_with_every_problem(tmp_path, rng):
    images, _, _ = _arrays(rng, n=4)
    with pytest.raises(DatasetError, match=r"labels must lie in 0..1.*unknown splits \['test'\]"):
        write_store(tmp_path / "bad", images, [0, 1, 2, 0], ["train", "train", "test", "val"], ["a", "b"],
                    name="bad")
    assert not (tmp_path / "bad").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder left behind


def test_unknown_split_and_old_format_are_explained(tmp_path, rng):
    images, labels, splits = _arrays(rng)
    store = write_store(tmp_path / "toy", images, labels, splits, ["a", "b", "c"], name="toy")
    with pytest.raises(DatasetError, match="unknown split 'test'"):
        store.split_indices("test")
    meta = json.loads((tmp_path / "toy" / "meta.json").read_text())
    meta["format_version"] = 0
    (tmp_path / "toy" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="rebuild it: python -m pipeline prepare toy --force"):
        open_store(tmp_path / "toy")
