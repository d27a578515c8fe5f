"""Synthetic datasets: seeded, balanced, different in kind, written as stores, and learnable in seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from pipeline.data import catalogue, synthetic
from pipeline.data.loader import DeviceLoader
from pipeline.data.store import open_store
from pipeline.errors import DatasetError

KINDS = sorted(synthetic.KINDS)
CATALOGUE = sorted(Path(catalogue.CATALOGUE_DIR).glob("synth-*.yaml"))


@pytest.mark.parametrize("kind", KINDS)
def test_deterministic_for_a_seed(kind):
    a = synthetic.make_synthetic(kind, 60, 24, 32, seed=5)
    b = synthetic.make_synthetic(kind, 60, 24, 32, seed=5)
    c = synthetic.make_synthetic(kind, 60, 24, 32, seed=6)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
    assert not np.array_equal(a[0], c[0])
    images, labels, classes = a
    assert images.shape == (84, 32, 32, 3) and images.dtype == np.uint8 and labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() < len(classes)


@pytest.mark.parametrize("kind", KINDS)
def test_balanced_classes_in_each_split(kind):
    classes = synthetic.KINDS[kind][0]
    n_train, n_val = 12 * len(classes), 3 * len(classes)
    _, labels, _ = synthetic.make_synthetic(kind, n_train, n_val, 32, seed=0)
    assert np.all(np.bincount(labels[:n_train], minlength=len(classes)) == 12)
    assert np.all(np.bincount(labels[n_train:], minlength=len(classes)) == 3)


def test_kinds_differ():

    def peak_share(images: np.ndarray) -> float:  # median share of spectral power in the strongest frequency
        grey = images.astype(np.float32).mean(-1)
        power = np.abs(np.fft.fft2(grey - grey.mean((1, 2), keepdims=True))).reshape(len(grey), -1) ** 2
        return float(np.median(power.max(1) / power.sum(1)))

    def object_share(images: np.ndarray) -> float:  # pixels far from the colour of the image's border
        x = images.astype(np.float32)
        border = np.concatenate([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], axis=1)
        far = np.abs(x - np.median(border, axis=1)[:, None, None, :]).max(-1) > 0.3 * 255
        return float(far.mean())

    made = {kind: synthetic.make_synthetic(kind, 200, 10, 32, seed=0) for kind in KINDS}
    peaks = {kind: peak_share(images) for kind, (images, _, _) in made.items()}
    objects = {kind: object_share(images) for kind, (images, _, _) in made.items()}
    assert peaks["textures"] > 1.5 * max(peaks["shapes"], peaks["counting"])  # one dominant frequency
    assert objects["shapes"] > 2 * objects["counting"]  # one large object against a few small blobs
    for first in KINDS:
        for second in KINDS:
            if first < second:
                assert not np.array_equal(made[first][0], made[second][0])
    assert len({tuple(classes) for _, _, classes in made.values()}) == len(KINDS)


def test_other_resolution():
    images, _, _ = synthetic.make_synthetic("shapes", 10, 5, 64, seed=0)
    assert images.shape == (15, 64, 64, 3)


def test_generate_writes_a_store(tmp_path):
    entry = _entry(
        name="synth-x", resolution=[32, 32], synthetic={"kind": "counting", "n_train": 50, "n_val": 10}
    )
    store = synthetic.generate(entry, tmp_path / "synth-x", seed=2)
    again = open_store(tmp_path / "synth-x")
    assert store.name == again.name == "synth-x" and store.classes == list(synthetic.COUNTS)
    assert store.meta["split"]["policy"] == "synthetic" and store.meta["split"]["seed"] == 2
    assert store.meta["split_counts"] == {"train": 50, "val": 10}
    images, labels, _ = synthetic.make_synthetic("counting", 50, 10, 32, seed=2)
    assert np.array_equal(np.asarray(again.images), images) and np.array_equal(again.labels, labels)
    other = synthetic.generate(entry, tmp_path / "other", seed=3)
    assert other.fingerprint != store.fingerprint  # the seed is part of the dataset's identity
    assert synthetic.generate(entry, tmp_path / "synth-x", seed=2).fingerprint == store.fingerprint


def test_generate_refuses_a_folder_that_is_not_a_store(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    entry = _entry(synthetic={"kind": "shapes", "n_train": 5, "n_val": 5})
    with pytest.raises(DatasetError, match="not a dataset store"):
        synthetic.generate(entry, tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def _entry(**raw):
    """A synthetic catalogue entry as the catalogue builds it from a YAML mapping."""
    base = {"name": "s", "format": "synthetic", "resolution": 32, "recipe": {"epochs": 1, "metric": "top1"}}
    return catalogue.entry_from_dict({**base, **raw})


def test_bad_settings_are_reported_together():
    entry = _entry(synthetic={"kind": "stars", "n_train": 0})
    with pytest.raises(DatasetError, match=r"kind 'stars'.*counting.*n_train 0.*n_val None"):
        synthetic.synthetic_settings(entry)
    wrong = _entry(num_classes=7, synthetic={"kind": "shapes", "n_train": 5, "n_val": 5})
    with pytest.raises(DatasetError, match="5 classes, not 7"):
        synthetic.synthetic_settings(wrong)


@pytest.mark.parametrize("path", CATALOGUE, ids=lambda p: p.stem)
def test_catalogue_yaml(path):
    raw = yaml.safe_load(path.read_text())
    assert (
        raw["name"] == path.stem and raw["format"] == "synthetic" and raw["split"] == {"policy": "synthetic"}
    )
    settings = synthetic.synthetic_settings(catalogue.load_entry(path.stem))
    assert (
        settings["resolution"] == 32
        and 2000 <= settings["n_train"] <= 5000
        and 500 <= settings["n_val"] <= 1000
    )
    assert settings["kind"] == raw["synthetic"]["kind"]


def test_three_catalogue_kinds():
    kinds = {yaml.safe_load(p.read_text())["synthetic"]["kind"] for p in CATALOGUE}
    assert kinds == set(KINDS)


def _tiny_cnn(num_classes: int) -> nn.Module:
    def block(w_in: int, w_out: int) -> list[nn.Module]:
        return [nn.Conv2d(w_in, w_out, 3, padding=1, bias=False), nn.BatchNorm2d(w_out), nn.ReLU()]

    return nn.Sequential(
        *block(3, 16), nn.MaxPool2d(2), *block(16, 32), nn.MaxPool2d(2), *block(32, 64),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes),
    )  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_a_tiny_cnn_learns_each_kind(tmp_path, kind):
    """Two epochs on 2,000 images (a second or two on CPU) must clearly beat chance.

    Accuracy with seeds 0-2: shapes 0.58-0.71, textures 0.73-0.80, counting 0.49-0.56
    (chance 0.2, 0.083, 0.2).
    """
    # One thread: on a shared 2-core machine two OpenMP threads stall each other (10× slower); the
    # conftest fixture restores the thread count afterwards.
    torch.set_num_threads(1)
    entry = _entry(name=kind, synthetic={"kind": kind, "n_train": 2000, "n_val": 400})
    store = synthetic.generate(entry, tmp_path / kind, seed=0)
    torch.manual_seed(0)
    net = _tiny_cnn(store.num_classes).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    train = DeviceLoader(store, "train", batch_size=64, train=True, crop_size=32, seed=0)
    for epoch in range(2):
        train.set_epoch(epoch)
        for x, y in train:
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
    # Re-estimate BatchNorm statistics for the final weights: after ~60 steps the running averages
    # still lag the weights and make eval accuracy swing between seeds.
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the pass below
    with torch.no_grad():
        for x, _ in train:
            net(x)
    net.eval()
    with torch.no_grad():
        hits = [
            (net(x).argmax(1) == y).float()
            for x, y in DeviceLoader(store, "val", batch_size=200, train=False, crop_size=32, seed=0)
        ]
    accuracy, chance = torch.cat(hits).mean().item(), 1 / store.num_classes
    assert accuracy > chance + 0.2, f"{kind}: accuracy {accuracy:.2f} vs chance {chance:.2f}"
