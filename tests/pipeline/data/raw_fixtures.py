"""Tiny datasets in the real public layouts and file types (JPEG/PNG via Pillow, real pickles, CSV).

Each writer returns what a correct reader must find. Images are solid colours that encode (class, index),
so pixel checks survive resizing (and JPEG within a few levels).
"""

from __future__ import annotations

import csv
import pickle
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


def imagenet(root: Path, *, per_class=3, val_per_class=2, val_layout="devkit") -> dict:
    """train/<wnid>/*.JPEG and val as `devkit` (flat + ground truth), `csv` (flat + LOC csv) or `folders`."""
    wnids = sorted(WNIDS)
    expected = {}
    for label, w in enumerate(wnids):
        for i in range(per_class):
            path = solid(root / "train" / w / f"{w}_{i}.JPEG", colour(label, i))
            expected[path.relative_to(root).as_posix()] = (label, "train", colour(label, i))
    truth = []
    number = 0
    for i in range(val_per_class):
        for label, w in enumerate(wnids):
            number += 1
            name = f"ILSVRC2012_val_{number:08d}"
            folder = root / "val" / (w if val_layout == "folders" else "")
            path = solid(folder / f"{name}.JPEG", colour(label, 10 + i))
            expected[path.relative_to(root).as_posix()] = (label, "val", colour(label, 10 + i))
            truth.append((name, label, w))
    if val_layout == "devkit":
        devkit = root / "ILSVRC2012_devkit_t12" / "data"
        devkit.mkdir(parents=True)
        (devkit / "ILSVRC2012_validation_ground_truth.txt").write_text(
            "".join(f"{t[1] + 1}\n" for t in truth)
        )
    elif val_layout == "csv":
        with open(root / "LOC_val_solution.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["ImageId", "PredictionString"])
            for name, _, w in reversed(truth):
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
