"""Intel Image Classification ("Natural"): `seg_train/seg_train/<class>/`, `seg_test/seg_test/<class>/`.

The Kaggle archive nests each split in a folder of the same name; a single level (`seg_train/<class>`) is
accepted too. `seg_test` is the official evaluation split; the unlabelled `seg_pred` is ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pipeline.data.readers import RawSource, Sample, missing_layout
from pipeline.data.readers.imagefolder import class_folder_classes, class_folder_samples

SPLIT_FOLDERS = {"train": "seg_train", "val": "seg_test"}


def _split_root(source: Path, entry, folder: str) -> Path:
    for root in (source / folder / folder, source / folder):
        if root.is_dir() and not (root / folder).is_dir():
            return root
    raise missing_layout(entry, source, f"{folder}/{folder}/<class>/")


def read(source: Path, entry, *, class_map: Path | None = None) -> RawSource:
    roots = {split: _split_root(source, entry, folder) for split, folder in SPLIT_FOLDERS.items()}
    classes = class_folder_classes(roots["train"], entry, what="seg_train/seg_train/<class>/")
    class_folder_classes(roots["val"], entry, what="seg_test/seg_test/<class>/")

    def samples() -> Iterator[Sample]:
        for split, root in roots.items():
            yield from class_folder_samples(root, classes, split, base=source)

    return RawSource(classes, samples())
