"""ImageNet (ILSVRC2012): `train/<wnid>/*.JPEG` and a validation set in one of three layouts.

Validation, in order of preference:
1. `val/<wnid>/*.JPEG` (already sorted into class folders, e.g. by the usual valprep script);
2. flat `val/ILSVRC2012_val_XXXXXXXX.JPEG` with the devkit's `ILSVRC2012_validation_ground_truth.txt`,
   whose line i is the ILSVRC2012_ID of image i. An ILSVRC2012_ID is the number the devkit's
   `data/meta.mat` gives a synset (leaves = the 1000 classes, IDs 1..1000, in neither sorted-wnid nor
   alphabetical order: 1 is n02119789 kit fox); the mapping ID -> wnid is read from meta.mat (extracted
   `ILSVRC2012_devkit_t12/` or straight from `ILSVRC2012_devkit_t12.tar.gz`), else from `map_clsloc.txt`
   (`--map`, or found beside the data), whose line k is ID k. Neither present: an error, never a guess.
   See devkit.py;
3. flat `val/*.JPEG` with Kaggle's `LOC_val_solution.csv` (`ImageId,PredictionString`, the first token of
   PredictionString is the wnid).
The Kaggle layout `ILSVRC/Data/CLS-LOC/{train,val}` is found under DIR automatically. The devkit files and
the csv may sit in DIR, in the folder holding train/ or the three above it, or in
`ILSVRC2012_devkit_t12/data/` of any of those.

Class order in the store: sorted wnids (the catalogue's classes: null), labels 0..C-1 in that order; only
the validation lookup goes through the IDs (ID -> wnid -> position in the sorted list).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from pipeline.data.readers import RawSource, Sample, devkit, list_images, missing_layout, subdirs
from pipeline.errors import DatasetError

WNID = re.compile(r"^n\d{8}$")
GROUND_TRUTH_CSV = "LOC_val_solution.csv"
_VAL_NUMBER = re.compile(r"(\d+)$")


def find_root(source: Path) -> Path:
    """The folder holding train/ and val/ (DIR itself, or the Kaggle ILSVRC/Data/CLS-LOC under it)."""
    kaggle = source / "ILSVRC" / "Data" / "CLS-LOC"
    return kaggle if (kaggle / "train").is_dir() else source


def _find_file(name: str, folders: list[Path]) -> Path | None:
    for folder in folders:
        for candidate in (folder / name, folder / devkit.DEVKIT_DIR / "data" / name):
            if candidate.is_file():
                return candidate
    return None


def train_classes(root: Path, entry) -> list[str]:
    train = root / "train"
    if not train.is_dir():
        raise missing_layout(entry, root, "train/<wnid>/")
    wnids = [d for d in subdirs(train) if WNID.match(d)]
    if not wnids:
        raise missing_layout(entry, train, "wnid class folders (train/n01440764/ ...)")
    if entry.classes is not None:
        missing = sorted(set(entry.classes) - set(wnids))
        if missing:
            raise DatasetError(
                f"{entry.name}: train/ lacks class folders {missing[:5]} ({len(missing)} in all)"
            )
        return list(entry.classes)
    return wnids


def search_folders(source: Path) -> list[Path]:
    """Where the devkit, the ground truth and map_clsloc.txt may sit: DIR, the folder holding train/, and
    the three folders above it (an extracted devkit usually lies beside train/ and val/)."""
    root = find_root(source)
    return list(dict.fromkeys([source, root, *root.parents[:3]]))


def id_order(source: Path, class_map: Path | None = None) -> devkit.IdOrder | None:
    """ILSVRC2012_ID -> wnid for the ImageNet under `source` (devkit, else map_clsloc.txt; see devkit.py)."""
    return devkit.find_id_order(search_folders(source), class_map)


def _ground_truth_labels(
    images: list[Path], truth: tuple[list[int], str], order: devkit.IdOrder, index: dict[str, int], entry
) -> list[tuple[Path, int]]:
    """Flat val/ labelled through the ground truth: image i -> ILSVRC2012_ID -> wnid -> store label."""
    ids, where = truth
    pairs, absent = [], {}
    for path in images:
        match = _VAL_NUMBER.search(path.stem)
        number = int(match.group(1)) if match else 0
        if not 1 <= number <= len(ids):
            raise DatasetError(f"{entry.name}: {path.name} has no line in {where} ({len(ids)} lines)")
        class_id = ids[number - 1]
        if not 1 <= class_id <= len(order.wnids):
            raise DatasetError(
                f"{entry.name}: {where} gives ILSVRC2012_ID {class_id} for {path.name}, but {order.where} "
                f"defines IDs 1..{len(order.wnids)}; the ground truth and the class map are not of one devkit"
            )
        wnid = order.wnids[class_id - 1]
        if wnid not in index:
            absent.setdefault(wnid, path.name)
            continue
        pairs.append((path, index[wnid]))
    if absent:
        shown = ", ".join(f"{w} ({name})" for w, name in list(absent.items())[:5])
        raise DatasetError(
            f"{entry.name}: {where} (through {order.where}) labels validation images with classes that "
            f"train/ has no folder for: {shown} ({len(absent)} in all); add those train/ folders, or check "
            "that the devkit belongs to this ImageNet"
        )
    return pairs


def val_labels(
    root: Path, source: Path, classes: list[str], entry, class_map: Path | None = None
) -> list[tuple[Path, int]]:
    """(image path, label) of every validation image, from whichever layout is present."""
    val = root / "val"
    if not val.is_dir():
        raise missing_layout(entry, root, "val/")
    index = {wnid: i for i, wnid in enumerate(classes)}
    folders = [d for d in subdirs(val) if WNID.match(d)]
    if folders:
        unknown = sorted(set(folders) - set(index))
        if unknown:
            raise DatasetError(f"{entry.name}: val/ has class folders {unknown[:5]} that train/ lacks")
        return [(p, index[w]) for w in folders for p in list_images(val / w)]
    images = list_images(val)
    search = search_folders(source)
    truth = devkit.find_ground_truth(search)
    if truth is not None:
        order = devkit.find_id_order(search, class_map)
        if order is None:
            raise DatasetError(
                f"{entry.name}: {truth[1]} gives each validation image an ILSVRC2012_ID, whose class is "
                f"defined by the devkit's data/{devkit.META_MAT}, but {devkit.looked_for(search)}. Put "
                f"{devkit.DEVKIT_TAR} (image-net.org, as downloaded or extracted) in {source}, or pass "
                f"--map map_clsloc.txt, or sort val/ into val/<wnid>/ folders"
            )
        strangers = sorted(set(classes) - set(order.wnids))
        if strangers:
            raise DatasetError(
                f"{entry.name}: train/ has class folders {strangers[:5]} ({len(strangers)} in all) that "
                f"{order.where} does not list; that devkit or map does not belong to this ImageNet"
            )
        return _ground_truth_labels(images, truth, order, index, entry)
    solution = _find_file(GROUND_TRUTH_CSV, search)
    if solution is not None:
        with open(solution, newline="") as f:
            truth_csv = {row["ImageId"]: row["PredictionString"].split()[0] for row in csv.DictReader(f)}
        pairs = []
        for path in images:
            wnid = truth_csv.get(path.stem)
            if wnid is None or wnid not in index:
                raise DatasetError(f"{entry.name}: {solution} has no known class for {path.name} ({wnid!r})")
            pairs.append((path, index[wnid]))
        return pairs
    raise missing_layout(
        entry,
        root,
        f"val/<wnid>/ folders, or {devkit.GROUND_TRUTH_TXT} (loose or in {devkit.DEVKIT_TAR}) / "
        f"{GROUND_TRUTH_CSV} for the flat val/",
    )


def read(source: Path, entry, *, class_map: Path | None = None) -> RawSource:
    root = find_root(source)
    classes = train_classes(root, entry)
    val = val_labels(root, source, classes, entry, class_map)

    def samples() -> Iterator[Sample]:
        for label, wnid in enumerate(classes):
            for path in list_images(root / "train" / wnid):
                yield Sample(str(path), label, "train", path.relative_to(source).as_posix())
        for path, label in val:
            yield Sample(str(path), label, "val", path.relative_to(source).as_posix())

    return RawSource(classes, samples())
