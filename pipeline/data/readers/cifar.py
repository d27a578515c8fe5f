"""CIFAR-10 / CIFAR-100 python pickles, read through the restricted unpickler.

CIFAR-10: `data_batch_1..5` (train), `test_batch` (val), `batches.meta` (`label_names`), key `labels`.
CIFAR-100: `train`, `test`, `meta` (`fine_label_names`), key `fine_labels`. Rows of `data` are uint8,
channel-planar 3×32×32. DIR may be the extracted folder or its parent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pipeline.data.readers import ArrayRow, RawSource, Sample, missing_layout
from pipeline.data.safe_pickle import load_dict
from pipeline.errors import DatasetError

LAYOUTS = {
    "cifar10": {
        "folder": "cifar-10-batches-py",
        "files": {**{f"data_batch_{i}": "train" for i in range(1, 6)}, "test_batch": "val"},
        "meta": ("batches.meta", "label_names"),
        "labels": "labels",
    },
    "cifar100": {
        "folder": "cifar-100-python",
        "files": {"train": "train", "test": "val"},
        "meta": ("meta", "fine_label_names"),
        "labels": "fine_labels",
    },
}


def read(source: Path, entry, *, class_map: Path | None = None) -> RawSource:
    layout = LAYOUTS[entry.format]
    nested = source / layout["folder"]
    root = nested if nested.is_dir() else source
    meta_file, names_key = layout["meta"]
    missing = [f for f in [*layout["files"], meta_file] if not (root / f).is_file()]
    if missing:
        raise missing_layout(entry, root, f"the files {missing}")
    classes = [c.decode() if isinstance(c, bytes) else str(c) for c in load_dict(root / meta_file)[names_key]]
    if entry.classes is not None and list(entry.classes) != classes:
        raise DatasetError(
            f"{entry.name}: {root / meta_file} names classes {classes[:5]}..., not the catalogue's"
        )

    def samples() -> Iterator[Sample]:
        for name, split in layout["files"].items():
            labels = load_dict(root / name)[layout["labels"]]
            for row, label in enumerate(labels):
                yield Sample(ArrayRow(str(root / name), row), int(label), split, f"{name}#{row}")

    return RawSource(classes, samples())
