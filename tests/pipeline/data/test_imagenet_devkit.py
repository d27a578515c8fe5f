"""ImageNet's flat validation folder: ILSVRC2012_IDs mean what the devkit's meta.mat says (or map_clsloc.txt).

The fixture's ID order is neither sorted nor alphabetical, and every val image is a solid colour that
names its class, so each test reads the class back from the stored pixels and compares it with the label.
"""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
import scipy.io

from pipeline.__main__ import main as pipeline_main
from pipeline.data import c17
from pipeline.data.catalogue import load_entry
from pipeline.data.prepare import prepare_dataset
from pipeline.data.readers import devkit
from pipeline.data.store import open_store
from pipeline.errors import DatasetError

from . import raw_fixtures as raw

# not the sorted classes in turn: image 1 is ID 1 (kit fox), which sorted order would call n01440764
VAL_ORDER = ["n02119789", "n01440764", "n02100735", "n02100735", "n02119789", "n01440764"]
# a devkit of exactly the train classes: IDs 1..3 all valid, so reading them as sorted order mislabels
THREE = [w for w in raw.DEVKIT_ORDER if w in raw.WNIDS]


def _source(tmp_path, form: str, order=raw.DEVKIT_ORDER):
    """A flat-val ImageNet under tmp_path/src with the devkit as `form`; returns (src, --map args)."""
    src = tmp_path / "src"
    kind = form if form in ("extracted", "tarball") else "none"
    raw.imagenet(src, devkit=kind, order=order, val_order=VAL_ORDER)
    if form == "map-option":  # outside the searched folders, so only --map finds it
        (tmp_path / "maps").mkdir()
        return src, ["--map", str(raw.class_map(tmp_path / "maps" / "map_clsloc.txt", order))]
    if form == "map-found":
        raw.class_map(src / "map_clsloc.txt", order)
    return src, []


def _centre(image: np.ndarray) -> np.ndarray:
    return image[image.shape[0] // 2, image.shape[1] // 2]


@pytest.mark.parametrize("form", ["extracted", "tarball", "map-option", "map-found"])
@pytest.mark.parametrize("order", [raw.DEVKIT_ORDER, THREE], ids=["devkit-4", "devkit-3"])
def test_prepare_labels_every_val_image_by_its_ilsvrc2012_id(tmp_path, form, order):
    src, map_args = _source(tmp_path, form, order)
    args = ["prepare", "imagenet", "--source", str(src), "--out", str(tmp_path / "store"), "--workers", "1"]
    assert pipeline_main(args + map_args) == 0
    store = open_store(tmp_path / "store")
    assert store.classes == sorted(raw.WNIDS)  # store order stays sorted wnids; only the lookup changed
    val = store.split_indices("val")
    assert len(val) == len(VAL_ORDER)
    for row in val:
        number = int(store.source_ids[row].rsplit("_", 1)[1].split(".")[0])
        seen = raw.wnid_of(_centre(store.images[row]))  # the class the pixels show
        assert seen == VAL_ORDER[number - 1]
        assert store.classes[store.labels[row]] == seen, store.source_ids[row]
    for row in store.split_indices("train"):
        assert store.classes[store.labels[row]] == raw.wnid_of(_centre(store.images[row]))


def test_no_devkit_and_no_map_is_refused_with_the_fix(tmp_path):
    src, _ = _source(tmp_path, "none")
    with pytest.raises(DatasetError) as caught:
        prepare_dataset(load_entry("imagenet"), src, tmp_path / "store", workers=1, log=lambda line: None)
    message = str(caught.value)
    for needed in ("ILSVRC2012_ID", "ILSVRC2012_devkit_t12/data/meta.mat", "ILSVRC2012_devkit_t12.tar.gz",
                   "map_clsloc.txt", str(src), "--map"):  # fmt: skip
        assert needed in message
    assert not (tmp_path / "store").exists()


def test_a_map_that_disagrees_with_the_devkit_is_refused(tmp_path):
    src, _ = _source(tmp_path, "tarball")
    other = raw.class_map(tmp_path / "other.txt", sorted(raw.DEVKIT_ORDER))
    with pytest.raises(DatasetError, match=r"disagrees with the devkit .*ILSVRC2012_ID 1 is n01440764 there"):
        prepare_dataset(
            load_entry("imagenet"), src, tmp_path / "s", workers=1, class_map=other, log=lambda line: None
        )
    agreeing = raw.class_map(tmp_path / "same.txt", raw.DEVKIT_ORDER)
    store = prepare_dataset(
        load_entry("imagenet"), src, tmp_path / "s", workers=1, class_map=agreeing, log=lambda line: None
    ).store
    assert len(store.labels) == 9 + len(VAL_ORDER)


def test_ground_truth_class_without_a_train_folder_is_named(tmp_path):
    src, _ = _source(tmp_path, "extracted")
    lines = (src / raw.DEVKIT / "data" / raw.GROUND_TRUTH).read_text().split()
    lines[0] = "3"  # n02110185, listed by the devkit but absent from train/
    (src / raw.DEVKIT / "data" / raw.GROUND_TRUTH).write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"n02110185 \(ILSVRC2012_val_00000001.JPEG\)"):
        prepare_dataset(load_entry("imagenet"), src, tmp_path / "s", workers=1, log=lambda line: None)
    lines[0] = "9"  # beyond the devkit's 4 leaves
    (src / raw.DEVKIT / "data" / raw.GROUND_TRUTH).write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"ILSVRC2012_ID 9 .* defines IDs 1\.\.4"):
        prepare_dataset(load_entry("imagenet"), src, tmp_path / "s", workers=1, log=lambda line: None)


def _meta(rows) -> bytes:
    fields = [(name, "O") for name in ("ILSVRC2012_ID", "WNID", "num_children", "children")]
    synsets = np.empty((len(rows), 1), dtype=fields)
    for i, (number, wnid, children) in enumerate(rows):
        synsets[i, 0] = (np.array([[float(number)]]), wnid, np.array([[float(len(children))]]),
                         np.array([children], dtype=float).reshape(1, -1))  # fmt: skip
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"synsets": synsets})
    return buffer.getvalue()


def test_meta_mat_leaves_in_id_order_whatever_the_row_order():
    rows = [(3, "n00000003", [1, 2]), (2, "n00000010", []), (1, "n00000020", [])]  # an ancestor first
    assert devkit.parse_meta_mat(_meta(rows), "m") == ["n00000020", "n00000010"]
    with pytest.raises(DatasetError, match=r"IDs 1\.\.2; IDs out of place: \[2, 3\]"):
        devkit.parse_meta_mat(_meta([(1, "n00000020", []), (3, "n00000010", [])]), "m")
    with pytest.raises(DatasetError, match="more than one ILSVRC2012_ID"):
        devkit.parse_meta_mat(_meta([(1, "n00000020", []), (2, "n00000020", [])]), "m")
    with pytest.raises(DatasetError, match=r"not the ILSVRC2012 devkit's meta\.mat"):
        buffer = io.BytesIO()
        scipy.io.savemat(buffer, {"other": np.zeros(3)})
        devkit.parse_meta_mat(buffer.getvalue(), "m")


def test_the_tarball_is_read_in_place(tmp_path):
    src, _ = _source(tmp_path, "tarball")
    with tarfile.open(src / devkit.DEVKIT_TAR) as tar:
        assert f"{raw.DEVKIT}/data/meta.mat" in tar.getnames()
    order = devkit.find_id_order([src])
    truth, where = devkit.find_ground_truth([src])
    assert order.wnids == raw.DEVKIT_ORDER and "tar.gz:data/meta.mat" in order.where
    assert [order.wnids[k - 1] for k in truth] == VAL_ORDER and where.endswith(raw.GROUND_TRUTH)
    assert sorted(p.name for p in src.iterdir()) == [devkit.DEVKIT_TAR, "train", "val"]  # nothing extracted


def _c17_val(out) -> list[tuple[str, int]]:
    """(class the pixels show, label) of every row of val_data."""
    content = c17.read_file(c17.find_files(out)[1])
    images = c17.from_planar(content["data"])
    return [
        (raw.wnid_of(_centre(image)), int(label))
        for image, label in zip(images, content["labels"], strict=True)
    ]


def _downsample_args(src, out) -> list[str]:
    return ["downsample", "--source", str(src), "--size", "8", "--out", str(out), "--workers", "1"]


@pytest.mark.parametrize("form", ["extracted", "tarball", "map-option"])
def test_downsample_writes_id_order_labels(tmp_path, form):
    src, map_args = _source(tmp_path, form)
    args = _downsample_args(src, tmp_path / "c17")
    assert pipeline_main(args + map_args) == 0
    rows = _c17_val(tmp_path / "c17")
    assert len(rows) == len(VAL_ORDER)
    for wnid, label in rows:
        assert label == raw.DEVKIT_ORDER.index(wnid) + 1  # 1-based ILSVRC2012_ID (= map_clsloc line)
    train = [c17.read_file(p) for p in c17.find_files(tmp_path / "c17")[0]]
    for content in train:
        for image, label in zip(c17.from_planar(content["data"]), content["labels"], strict=True):
            assert label == raw.DEVKIT_ORDER.index(raw.wnid_of(_centre(image))) + 1


def test_downsample_refuses_a_disagreeing_map_and_a_missing_one(tmp_path, capsys):
    src, _ = _source(tmp_path, "extracted")
    other = raw.class_map(tmp_path / "other.txt", [*raw.DEVKIT_ORDER[1:], raw.DEVKIT_ORDER[0]])
    args = _downsample_args(src, tmp_path / "c17")
    assert pipeline_main([*args, "--map", str(other)]) == 2
    assert "disagrees with the devkit" in capsys.readouterr().err
    folders = tmp_path / "folders"
    raw.imagenet(folders, per_class=1, val_per_class=1, val_layout="folders")  # no devkit, no ground truth
    args = [
        "downsample",
        "--source",
        str(folders),
        "--size",
        "8",
        "--out",
        str(tmp_path / "c"),
        "--workers",
        "1",
    ]
    assert pipeline_main(args) == 2
    err = capsys.readouterr().err
    assert "ILSVRC2012_devkit_t12.tar.gz" in err and "--map map_clsloc.txt" in err


@pytest.mark.skipif(not raw.MAP_CLSLOC.is_file(), reason="the real map_clsloc.txt is not in ../shared/data")
@pytest.mark.parametrize("form", ["extracted", "map-option"])
def test_real_id_order_labels_image_1_a_sea_snake(tmp_path, form):
    real = c17.load_class_map(raw.MAP_CLSLOC)
    first = ["n01751748", "n09193705", "n02105855", "n04263257"]  # sea snake, alp, sheltie, soup bowl
    src = tmp_path / "src"
    raw.imagenet(src, per_class=1, classes=first, order=real, val_order=first,
                 devkit="extracted" if form == "extracted" else "none")  # fmt: skip
    truth_file = (src / raw.DEVKIT / "data" if form == "extracted" else src) / raw.GROUND_TRUTH
    assert truth_file.read_text().split() == ["490", "361", "171", "822"]  # the real file's first lines
    map_args = ["--map", str(raw.MAP_CLSLOC)] if form == "map-option" else []
    args = ["prepare", "imagenet", "--source", str(src), "--out", str(tmp_path / "store"), "--workers", "1"]
    assert pipeline_main(args + map_args) == 0
    store = open_store(tmp_path / "store")
    rows = {sid: i for i, sid in enumerate(store.source_ids)}
    image_1 = rows["val/ILSVRC2012_val_00000001.JPEG"]
    assert store.classes[store.labels[image_1]] == "n01751748"
    for number, wnid in enumerate(first, 1):
        row = rows[f"val/ILSVRC2012_val_{number:08d}.JPEG"]
        assert store.classes[store.labels[row]] == wnid == raw.wnid_of(_centre(store.images[row]), first)
