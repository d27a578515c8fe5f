"""ImageNet (ILSVRC2012): `train/<wnid>/*.JPEG` and a validation set in one of three layouts.

Validation, in order of preference:
1. `val/<wnid>/*.JPEG` (already sorted into class folders, e.g. by the usual valprep script);
2. flat `val/ILSVRC2012_val_XXXXXXXX.JPEG` with the devkit's `ILSVRC2012_validation_ground_truth.txt`
   (line i = the ILSVRC2012_ID of image i). ILSVRC2012_IDs number the devkit's `meta.mat` synsets, whose
   first 1000 are the leaf classes in **alphabetical wnid order**; so ID k is the k-th of the sorted train
   folders. This is not the order of `map_clsloc.txt` (used by the downsampled files, see c17.py);
3. flat `val/*.JPEG` with Kaggle's `LOC_val_solution.csv` (`ImageId,PredictionString`, the first token of
   PredictionString is the wnid).
The Kaggle layout `ILSVRC/Data/CLS-LOC/{train,val}` is found under DIR automatically. The ground-truth
file may sit in DIR, in the folder holding train/, or in `ILSVRC2012_devkit_t12/data/` of either.

Class order in the store: sorted wnids (the catalogue's classes: null). Labels are 0..999 in that order.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from pipeline.data.readers import RawSource, Sample, list_images, missing_layout, subdirs
from pipeline.errors import DatasetError

WNID = re.compile(r"^n\d{8}$")
GROUND_TRUTH_TXT = "ILSVRC2012_validation_ground_truth.txt"
GROUND_TRUTH_CSV = "LOC_val_solution.csv"
_VAL_NUMBER = re.compile(r"(\d+)$")


def find_root(source: Path) -> Path:
    """The folder holding train/ and val/ (DIR itself, or the Kaggle ILSVRC/Data/CLS-LOC under it)."""
    kaggle = source / "ILSVRC" / "Data" / "CLS-LOC"
    return kaggle if (kaggle / "train").is_dir() else source


def _find_file(name: str, folders: list[Path]) -> Path | None:
    for folder in folders:
        for candidate in (folder / name, folder / "ILSVRC2012_devkit_t12" / "data" / name):
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


def val_labels(root: Path, source: Path, classes: list[str], entry) -> list[tuple[Path, int]]:
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
    search = [source, root, *root.parents[:3]]
    txt = _find_file(GROUND_TRUTH_TXT, search)
    if txt is not None:
        ids = [int(line) for line in txt.read_text().split()]
        pairs = []
        for path in images:
            number = int(_VAL_NUMBER.search(path.stem).group(1)) if _VAL_NUMBER.search(path.stem) else 0
            if not 1 <= number <= len(ids):
                raise DatasetError(f"{entry.name}: {path.name} has no line in {txt} ({len(ids)} lines)")
            if not 1 <= ids[number - 1] <= len(classes):
                raise DatasetError(
                    f"{entry.name}: {txt} gives ILSVRC2012_ID {ids[number - 1]} for {path.name}, but train/ "
                    f"has {len(classes)} classes (IDs index the sorted train wnids)"
                )
            pairs.append((path, ids[number - 1] - 1))
        return pairs
    solution = _find_file(GROUND_TRUTH_CSV, search)
    if solution is not None:
        with open(solution, newline="") as f:
            truth = {row["ImageId"]: row["PredictionString"].split()[0] for row in csv.DictReader(f)}
        pairs = []
        for path in images:
            wnid = truth.get(path.stem)
            if wnid is None or wnid not in index:
                raise DatasetError(f"{entry.name}: {solution} has no known class for {path.name} ({wnid!r})")
            pairs.append((path, index[wnid]))
        return pairs
    raise missing_layout(
        entry, root, f"val/<wnid>/ folders, or {GROUND_TRUTH_TXT} / {GROUND_TRUTH_CSV} for the flat val/"
    )


def read(source: Path, entry, *, class_map: Path | None = None) -> RawSource:
    root = find_root(source)
    classes = train_classes(root, entry)
    val = val_labels(root, source, classes, entry)

    def samples() -> Iterator[Sample]:
        for label, wnid in enumerate(classes):
            for path in list_images(root / "train" / wnid):
                yield Sample(str(path), label, "train", path.relative_to(source).as_posix())
        for path, label in val:
            yield Sample(str(path), label, "val", path.relative_to(source).as_posix())

    return RawSource(classes, samples())
