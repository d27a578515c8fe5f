"""C17 files: the format exactly as STUDY.md §7 says, a write/read round trip, and downsample = Pillow box."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from PIL import Image

from pipeline.__main__ import main as pipeline_main
from pipeline.data import c17
from pipeline.data.downsample import downsample_imagenet
from pipeline.errors import DatasetError

from . import raw_fixtures as raw


def test_planar_layout_is_cifar_like(rng):
    images = rng.integers(0, 256, size=(2, 3, 3, 3), dtype=np.uint8)
    rows = c17.to_planar(images)
    np.testing.assert_array_equal(rows[1, :9], images[1, :, :, 0].ravel())  # all R first, row-major
    np.testing.assert_array_equal(rows[1, 18:], images[1, :, :, 2].ravel())
    np.testing.assert_array_equal(c17.from_planar(rows), images)


def test_train_file_sizes():
    bounds = c17.train_file_bounds(1_281_167)
    sizes = [b - a for a, b in bounds]
    assert sizes[:9] == [128_116] * 9 and sizes[9] == 1_281_167 - 9 * 128_116


@pytest.mark.parametrize("fmt", ["pickle", "npz"])
def test_write_read_round_trip(tmp_path, rng, fmt):
    images = rng.integers(0, 256, size=(57, 8, 8, 3), dtype=np.uint8)
    labels = rng.integers(1, 1001, size=57)
    paths = c17.write_c17(tmp_path, images, labels, np.arange(50), np.arange(50, 57), seed=3, fmt=fmt)
    assert [p.name.split(".")[0] for p in paths] == [*c17.TRAIN_FILES, c17.VAL_FILE]
    files = [c17.read_file(p) for p in paths]
    assert [len(f["labels"]) for f in files] == [5] * 10 + [7]
    data = np.concatenate([f["data"] for f in files[:10]])
    got = np.concatenate([f["labels"] for f in files[:10]])
    order = np.random.default_rng(3).permutation(50)  # the recorded global shuffle
    np.testing.assert_array_equal(data, c17.to_planar(images[order]))
    np.testing.assert_array_equal(got, labels[order])
    assert data.dtype == np.uint8 and data.shape[1] == 3 * 8 * 8
    mean = c17.to_planar(images[:50]).mean(axis=0)
    for f in files[:10]:
        assert f["mean"].dtype == np.float64
        np.testing.assert_allclose(f["mean"], mean)
    assert "mean" not in files[10]
    np.testing.assert_array_equal(files[10]["data"], c17.to_planar(images[50:]))
    if fmt == "pickle":  # plain dicts of the documented types, labels a list of int
        with open(paths[0], "rb") as f:
            content = pickle.load(f)
        assert sorted(content) == ["data", "labels", "mean"] and isinstance(content["labels"], list)


def test_class_map_order_and_errors(tmp_path):
    path = raw.class_map(tmp_path / "map.txt", ["n02119789", "n02100735"])
    assert c17.load_class_map(path) == ["n02119789", "n02100735"]
    if raw.MAP_CLSLOC.is_file():
        wnids = c17.load_class_map(raw.MAP_CLSLOC)
        assert len(wnids) == 1000 and wnids[0] == "n02119789" and wnids != sorted(wnids)
    (tmp_path / "bad.txt").write_text("n02119789 2 kit_fox\n")
    with pytest.raises(DatasetError, match="index 1"):
        c17.load_class_map(tmp_path / "bad.txt")


@pytest.mark.parametrize("filt", ["box", "bicubic"])
def test_downsample_equals_pillow_resize_and_uses_map_labels(tmp_path, filt):
    map_path = raw.class_map(tmp_path / "map_clsloc.txt")
    wnids = c17.load_class_map(map_path)  # no devkit: the ground truth's IDs are this map's lines
    fixture = raw.imagenet(
        tmp_path / "imagenet", per_class=4, val_layout="devkit", devkit="none", order=wnids
    )
    rng = np.random.default_rng(0)
    for path in sorted((tmp_path / "imagenet").rglob("*.JPEG")):  # textured images, so filters differ
        Image.fromarray(rng.integers(0, 256, size=(29, 41, 3), dtype=np.uint8)).save(path, format="JPEG")
    result = downsample_imagenet(tmp_path / "imagenet", tmp_path / "out", size=8, map_path=map_path,
                                 resize_filter=filt, workers=1, log=lambda line: None)  # fmt: skip
    assert (result["train"], result["val"]) == (12, 6)
    expected = {}
    resample = {"box": Image.Resampling.BOX, "bicubic": Image.Resampling.BICUBIC}[filt]
    for path in (tmp_path / "imagenet").rglob("*.JPEG"):
        pixels = np.asarray(Image.open(path).convert("RGB").resize((8, 8), resample))
        label, split, _ = fixture[path.relative_to(tmp_path / "imagenet").as_posix()]
        expected[c17.to_planar(pixels[None])[0].tobytes()] = (split, sorted(raw.WNIDS)[label])
    train_files, val_file = c17.find_files(tmp_path / "out")
    seen = 0
    for path in [*train_files, val_file]:
        content = c17.read_file(path)
        for row, label in zip(content["data"], content["labels"], strict=True):
            split, wnid = expected[row.tobytes()]  # every row is Pillow's resize of one source image
            assert split == ("val" if path == val_file else "train")
            assert label == wnids.index(wnid) + 1  # 1-based, map_clsloc order
            seen += 1
    assert seen == 18
    again = downsample_imagenet(tmp_path / "imagenet", tmp_path / "out", size=8, map_path=map_path)
    assert again["already"]


def test_downsample_cli_then_prepare_reads_the_files_back(tmp_path, capsys):
    raw.imagenet(tmp_path / "imagenet", per_class=2, val_layout="folders")
    map_path = raw.class_map(tmp_path / "map_clsloc.txt")
    args = ["downsample", "--source", str(tmp_path / "imagenet"), "--size", "16", "--map", str(map_path),
            "--out", str(tmp_path / "i16"), "--workers", "1"]  # fmt: skip
    assert pipeline_main(args) == 0
    assert "6 train / 6 val" in capsys.readouterr().out
    assert pipeline_main(["prepare", "imagenet16", "--source", str(tmp_path / "i16"), "--map", str(map_path),
                          "--out", str(tmp_path / "store"), "--workers", "1"]) == 0  # fmt: skip
    from pipeline.data.store import open_store

    store = open_store(tmp_path / "store")
    assert store.images.shape == (12, 16, 16, 3) and len(store.classes) == len(c17.load_class_map(map_path))
    val = store.split_indices("val")
    for i in val:  # val colours encode the class: colour(label, 10 + k) of the sorted-wnid label
        wnid = store.classes[store.labels[i]]
        sorted_label = sorted(raw.WNIDS).index(wnid)
        assert abs(int(store.images[i][8, 8, 0]) - raw.colour(sorted_label, 10)[0]) <= 3
