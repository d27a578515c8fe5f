"""Downsampled ImageNet in the C17 files (`train_data_batch_1..10`, `val_data`, pickle or npz; see c17.py).

Labels 1..1000 become 0..999; the classes are the wnids of `map_clsloc.txt` in its line order (found under
DIR or given with `--map`). `options.max_label` keeps labels 1..max_label only (ImageNet16-120).
Reading labels from a pickle loads the whole file, so prepare reads each pickle twice (once for labels,
once for pixels); the npz variant reads labels alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pipeline.data import c17
from pipeline.data.readers import ArrayRow, RawSource, Sample, missing_layout
from pipeline.errors import DatasetError


def read(source: Path, entry, *, class_map: Path | None = None) -> RawSource:
    train, val = c17.find_files(source)
    if len(train) != c17.NUM_TRAIN_FILES or val is None:
        found = [p.name for p in train] + ([val.name] if val else [])
        raise missing_layout(
            entry, source, f"the C17 files {list(c17.TRAIN_FILES)} and val_data (found {found})"
        )
    map_path = class_map or c17.find_class_map(source)
    if map_path is None:
        raise DatasetError(
            f"{entry.name}: no {c17.MAP_FILE} under {source}; "
            "pass --map PATH (the devkit's data/map_clsloc.txt)"
        )
    wnids = c17.load_class_map(map_path)
    max_label = int(entry.options.get("max_label", len(wnids)))
    classes = wnids[:max_label]
    size = int(entry.options.get("size", entry.resolution))

    def samples() -> Iterator[Sample]:
        for path, split in [*((p, "train") for p in train), (val, "val")]:
            labels, length = c17.read_labels(path)
            c17.check_sizes([path], [length], size)
            if len(labels) and (labels.min() < 1 or labels.max() > len(wnids)):
                raise DatasetError(f"{path}: labels outside 1..{len(wnids)} (the class map's lines)")
            for row in np.flatnonzero(labels <= max_label):
                yield Sample(ArrayRow(str(path), int(row)), int(labels[row]) - 1, split, f"{path.name}#{row}")

    return RawSource(classes, samples())
