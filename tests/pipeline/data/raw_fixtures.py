"""Tiny datasets in the real public layouts and file types (JPEG/PNG via Pillow, real pickles, CSV).

Each writer returns what a correct reader must find. Images are solid colours that encode (class, index),
so pixel checks survive resizing (and JPEG within a few levels).
"""

from __future__ import annotations

import csv
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

MAP_CLSLOC = Path(__file__).resolve().parents[4] / "shared" / "data" / "imagenet" / "map_clsloc.txt"
WNIDS = ["n01440764", "n02119789", "n02100735"]  # sorted order differs from map_clsloc order


def colour(label: int, index: int) -> tuple[int, int, int]:
    return (20 + 30 * label, 20 + 15 * index, 220 - 25 * label)


def solid(path: Path, rgb, size=(40, 30), mode="RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, rgb)
    if mode != "RGB":
        image = image.convert(mode)
    image.save(path, quality=95) if path.suffix.lower() in (".jpg", ".jpeg") else image.save(path)
    return path


def class_folders(root: Path, classes, per_class: int, suffix: str = ".png", size=(40, 30)) -> dict:
    """root/<class>/<i><suffix>; returns {relative path: (label, rgb)}."""
    expected = {}
    for label, name in enumerate(classes):
        for i in range(per_class):
            rgb = colour(label, i)
            path = solid(root / name / f"img_{i:03d}{suffix}", rgb, size=size)
            expected[path.relative_to(root).as_posix()] = (label, rgb)
    return expected


def intel(root: Path, classes, train_per_class=3, test_per_class=1) -> dict:
    expected = {}
    for folder, n in (("seg_train", train_per_class), ("seg_test", test_per_class)):
        found = class_folders(root / folder / folder, classes, n, suffix=".jpg", size=(150, 150))
        expected.update({f"{folder}/{folder}/{k}": v for k, v in found.items()})
    return expected


def class_map(path: Path, wnids=None) -> Path:
    """A map_clsloc.txt of our own: `wnid index name`; the real map when `wnids` is None and it exists."""
    if wnids is None and MAP_CLSLOC.is_file():
        return MAP_CLSLOC
    wnids = wnids or ["n02119789", "n02100735", "n01440764", "n02110185"]
    path.write_text("".join(f"{w} {i} name_{i}\n" for i, w in enumerate(wnids, 1)))
    return path


# The fixture devkit's leaf synsets in ILSVRC2012_ID order (ID k = DEVKIT_ORDER[k - 1]). Like the real
# meta.mat (kit fox 1, English setter 2, Siberian husky 3, tench 449) it is neither sorted by wnid nor by
# name, and it lists a class (n02110185) that train/ lacks.
DEVKIT_ORDER = ["n02119789", "n02100735", "n02110185", "n01440764"]
DEVKIT_NAMES = {"n02119789": "kit fox", "n02100735": "English setter", "n02110185": "Siberian husky",
                "n01440764": "tench", "n01751748": "sea snake"}  # fmt: skip
NON_LEAVES = [("n02118333", "fox"), ("n02087122", "hunting dog"), ("n00001740", "entity")]
SYNSET_FIELDS = ("ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children", "wordnet_height",
                 "num_train_images")  # fmt: skip
DEVKIT = "ILSVRC2012_devkit_t12"
GROUND_TRUTH = "ILSVRC2012_validation_ground_truth.txt"


def val_colour(wnid: str, index: int, classes=WNIDS) -> tuple[int, int, int]:
    """The solid colour of validation image `index` of class `wnid`: R and B say the class."""
    return colour(sorted(classes).index(wnid), 10 + index)


def wnid_of(rgb, classes=WNIDS) -> str:
    """The class whose colour is nearest in R and B (what a test reads back from stored pixels)."""
    wnids = sorted(classes)
    distance = [
        abs(int(rgb[0]) - colour(k, 0)[0]) + abs(int(rgb[2]) - colour(k, 0)[2]) for k in range(len(wnids))
    ]
    return wnids[int(np.argmin(distance))]


def meta_mat(order: list[str]) -> bytes:
    """A devkit meta.mat: `synsets`, an N×1 struct array of doubles and strings as the real one, leaves
    (num_children 0) with IDs 1..n in `order`, then non-leaf ancestors with IDs n+1.. that have children."""
    import scipy.io

    n = len(order)
    assert not {w for w, _ in NON_LEAVES} & set(order)
    rows = [(k, w, DEVKIT_NAMES.get(w, f"class {k}"), []) for k, w in enumerate(order, 1)]
    children = [[1], [2, 3], [n + 1, n + 2]]  # fox > kit fox; hunting dog > ...; entity > both
    rows += [(n + 1 + j, w, words, children[j]) for j, (w, words) in enumerate(NON_LEAVES)]
    synsets = np.empty((len(rows), 1), dtype=[(f, "O") for f in SYNSET_FIELDS])
    for i, (number, wnid, words, below) in enumerate(rows):
        values = (float(number), wnid, words, f"gloss of {words}", float(len(below)),
                  np.array([below], dtype=float).reshape(1, -1), float(bool(below)),
                  0.0 if below else 1300.0)  # fmt: skip
        for field, value in zip(SYNSET_FIELDS, values, strict=True):
            synsets[i, 0][field] = np.array([[value]]) if isinstance(value, float) else value
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"synsets": synsets})
    return buffer.getvalue()


def devkit_files(root: Path, form: str, order: list[str], truth: list[int]) -> None:
    """The devkit as `extracted` (ILSVRC2012_devkit_t12/data/) or `tarball` (ILSVRC2012_devkit_t12.tar.gz),
    or only the ground-truth file in `root` (`none`)."""
    files = {"meta.mat": meta_mat(order), GROUND_TRUTH: "".join(f"{t}\n" for t in truth).encode()}
    if form == "extracted":
        for name, data in files.items():
            (root / DEVKIT / "data").mkdir(parents=True, exist_ok=True)
            (root / DEVKIT / "data" / name).write_bytes(data)
    elif form == "tarball":
        files[f"{DEVKIT}/readme.txt"] = b"ILSVRC2012 development kit"
        with tarfile.open(root / f"{DEVKIT}.tar.gz", "w:gz") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name if "/" in name else f"{DEVKIT}/data/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    elif form == "none":
        (root / GROUND_TRUTH).write_bytes(files[GROUND_TRUTH])
    else:
        raise ValueError(form)


def imagenet(
    root: Path,
    *,
    per_class=3,
    val_per_class=2,
    val_layout="devkit",
    devkit="extracted",
    classes=WNIDS,
    order=DEVKIT_ORDER,
    val_order=None,
) -> dict:
    """train/<wnid>/*.JPEG and val as `devkit` (flat + ground truth), `csv` (flat + LOC csv) or `folders`.

    With `devkit` the ground truth holds the ILSVRC2012_IDs of `order` (see devkit_files for the forms).
    `val_order` lists the class of val image 1, 2, ... (default: the sorted classes in turn). Returns
    {relative path: (sorted-wnid label, split, rgb)}; val colours are val_colour(wnid, k).
    """
    wnids = sorted(classes)
    expected = {}
    for label, w in enumerate(wnids):
        for i in range(per_class):
            path = solid(root / "train" / w / f"{w}_{i}.JPEG", colour(label, i))
            expected[path.relative_to(root).as_posix()] = (label, "train", colour(label, i))
    val_order = val_order or [w for _ in range(val_per_class) for w in wnids]
    truth = []
    seen: dict[str, int] = {}
    for number, w in enumerate(val_order, 1):
        i = seen[w] = seen.get(w, -1) + 1
        name = f"ILSVRC2012_val_{number:08d}"
        folder = root / "val" / (w if val_layout == "folders" else "")
        rgb = val_colour(w, i, classes)
        path = solid(folder / f"{name}.JPEG", rgb)
        expected[path.relative_to(root).as_posix()] = (wnids.index(w), "val", rgb)
        truth.append((name, w))
    if val_layout == "devkit":
        devkit_files(root, devkit, list(order), [list(order).index(w) + 1 for _, w in truth])
    elif val_layout == "csv":
        with open(root / "LOC_val_solution.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["ImageId", "PredictionString"])
            for name, w in reversed(truth):
                writer.writerow([name, f"{w} 1 2 30 40 {w} 5 6 7 8"])
    return expected


def cifar(root: Path, kind: str, rng: np.random.Generator) -> dict:
    """Pickles as the Python-2 originals load in Python 3 (bytes keys), protocol 2."""
    root.mkdir(parents=True)
    if kind == "cifar10":
        classes = [f"class{i}" for i in range(10)]
        files = {**{f"data_batch_{i}": 2 for i in range(1, 6)}, "test_batch": 3}
        meta, names_key, labels_key = "batches.meta", b"label_names", b"labels"
    else:
        classes = [f"fine{i}" for i in range(100)]
        files = {"train": 6, "test": 4}
        meta, names_key, labels_key = "meta", b"fine_label_names", b"fine_labels"
    with open(root / meta, "wb") as f:
        pickle.dump({names_key: classes, b"num_cases_per_batch": 2}, f, protocol=2)
    expected = []
    for name, n in files.items():
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = rng.integers(0, len(classes), size=n).tolist()
        payload = {b"batch_label": name.encode(), labels_key: labels, b"data": data}
        if kind == "cifar100":
            payload[b"coarse_labels"] = [x // 5 for x in labels]
        with open(root / name, "wb") as f:
            pickle.dump(payload, f, protocol=2)
        split = "val" if name in ("test_batch", "test") else "train"
        expected += [(f"{name}#{r}", labels[r], split, data[r]) for r in range(n)]
    return {"classes": classes, "rows": expected}


def ham10000(root: Path) -> dict:
    classes = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    rows = []
    nv = 0
    for i in range(42):  # 6 images per class: round(0.1·6) = 1 held out per class
        label = i % 7
        nv += label == 5
        lesion = f"HAM_{nv // 2:07d}" if label == 5 else f"HAM_{100 + i:07d}"  # nv lesions have 2 images
        image_id = f"ISIC_{i:07d}"
        folder = "HAM10000_images_part_1" if i % 2 else "HAM10000_images_part_2"
        solid(root / folder / f"{image_id}.jpg", colour(label, i % 4), size=(60, 45))
        rows.append({"lesion_id": lesion, "image_id": image_id, "dx": classes[label], "dx_type": "histo",
                     "age": "50.0", "sex": "male", "localization": "back"})  # fmt: skip
    with open(root / "HAM10000_metadata.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return {"classes": classes, "rows": rows}


def mlc2008(root: Path, rng: np.random.Generator) -> dict:
    """Two quadrat JPEGs with sidecars `<image>.jpg.txt`; mixed case labels, OFF points, a header line."""
    points = {
        "2008/quadrat_a.jpg": [(150, 200, "CCA"), (10, 10, "Turf"), (290, 390, "macro"), (100, 100, "Off")],
        "2008/sub/quadrat_b.jpg": [(200, 150, "Porit"), (5, 395, "cca"), (150, 150, "Sand")],
    }
    for rel, pts in points.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, size=(300, 400, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, quality=95)
        lines = ["row; col; label"] + [f"{r}; {c}; {lab}" for r, c, lab in pts]
        Path(str(path) + ".txt").write_text("\n".join(lines) + "\n")
    return points
