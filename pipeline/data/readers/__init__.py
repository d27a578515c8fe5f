"""Readers for the public layouts of the catalogue's datasets: one module per raw format.

Each module has `read(source: Path, entry: DatasetEntry, *, class_map: Path | None = None) -> RawSource`.
`read` checks the layout at once (a missing or misnamed folder raises DatasetError saying what was
expected where) and returns the class list plus a lazy iterator of `Sample`s; pixels are decoded later, in
parallel, by `images.load_pixels`. A sample's `split` is "train"/"val" for datasets with an official split and
None where prepare draws the hold-out.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from pipeline.errors import DatasetError

# raw format (catalogue `format`) -> module; plain dict, imported lazily
READERS: dict[str, str] = {
    "imagefolder": "pipeline.data.readers.imagefolder",
    "intel": "pipeline.data.readers.intel",
    "imagenet": "pipeline.data.readers.imagenet",
    "cifar10": "pipeline.data.readers.cifar",
    "cifar100": "pipeline.data.readers.cifar",
    "c17": "pipeline.data.readers.c17",
    "ham10000": "pipeline.data.readers.ham10000",
    "mlc2008": "pipeline.data.readers.mlc2008",
}
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".ppm"})


class Patch(NamedTuple):
    """A square `size`×`size` window of an image centred on pixel (row, col); outside the image is black."""

    path: str
    row: int
    col: int
    size: int


class ArrayRow(NamedTuple):
    """Row `row` of the `data` array (uint8, channel-planar 3·s·s) in a CIFAR/C17 pickle or npz file."""

    path: str
    row: int


ImageSource = str | Patch | ArrayRow  # str: an image file


class Sample(NamedTuple):
    source: ImageSource
    label: int  # 0..C-1 in the RawSource's class order
    split: str | None  # "train" | "val" | None (hold-out drawn by prepare)
    source_id: str  # stable and unique: a relative path, "file#row", "image#point"
    group: str | None = None  # samples sharing a group stay in one split (HAM10000 lesion_id)


@dataclass
class RawSource:
    classes: list[str]
    samples: Iterator[Sample]


def read_source(source: str | Path, entry, *, class_map: Path | None = None) -> RawSource:
    """Dispatch to the reader of `entry.format`; a missing source folder gets a message naming the layout."""
    source = Path(source)
    if entry.format not in READERS:
        raise DatasetError(f"{entry.name}: no reader for format {entry.format!r}; readers: {sorted(READERS)}")
    if not source.is_dir():
        raise DatasetError(
            f"{entry.name}: source folder {source} does not exist; expected in it: "
            f"{'; '.join(entry.source.get('expect') or ['see datasets/README.md'])}"
            + (f" ({entry.source_hint})" if entry.source_hint else "")
        )
    module = importlib.import_module(READERS[entry.format])
    return module.read(source, entry, class_map=class_map)


def missing_layout(entry, source: Path, what: str) -> DatasetError:
    """The error for a source folder that lacks `what`: says what was expected and lists what is there."""
    found = sorted(
        p.name + ("/" if p.is_dir() else "") for p in source.iterdir() if not p.name.startswith(".")
    )
    shown = ", ".join(found[:12]) + (f", ... ({len(found)} entries)" if len(found) > 12 else "")
    expect = "; ".join(entry.source.get("expect") or [])
    return DatasetError(
        f"{entry.name}: {what} not found under {source}"
        + (f"; expected: {expect}" if expect else "")
        + f"; found: {shown or 'nothing'}"
        + (f" ({entry.source_hint})" if entry.source_hint else "")
    )


def list_images(folder: Path, *, recursive: bool = False) -> list[Path]:
    """Image files in a folder (by suffix, case-insensitive, hidden files skipped), sorted by path.

    os.scandir reads the file type from the directory entry, so a 1300-file class folder costs one
    directory read, not 1300 stat calls.
    """
    found: list[Path] = []
    pending = [folder]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    if recursive:
                        pending.append(Path(entry.path))
                elif Path(entry.name).suffix.lower() in IMAGE_SUFFIXES and entry.is_file():
                    found.append(Path(entry.path))
    return sorted(found)


def subdirs(folder: Path) -> list[str]:
    """Names of the visible sub-folders, sorted."""
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
