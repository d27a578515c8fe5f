"""HAM10000: `HAM10000_metadata.csv` (`lesion_id, image_id, dx, ...`) + `HAM10000_images_part_{1,2}/*.jpg`.

The label is the `dx` column; `lesion_id` is each sample's group, so the `grouped` split policy keeps all
images of a lesion in one split. The Harvard Dataverse `.tab` (tab-separated) metadata is read as well.
Images listed in the metadata but absent from both folders are reported as skipped by prepare.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from pipeline.data.readers import RawSource, Sample, list_images, missing_layout
from pipeline.errors import DatasetError

METADATA = ("HAM10000_metadata.csv", "HAM10000_metadata.tab", "HAM10000_metadata")
IMAGE_FOLDERS = ("HAM10000_images_part_1", "HAM10000_images_part_2")


def read(source: Path, entry, *, class_map: Path | None = None) -> RawSource:
    metadata = next((source / m for m in METADATA if (source / m).is_file()), None)
    if metadata is None:
        raise missing_layout(entry, source, METADATA[0])
    folders = [source / f for f in IMAGE_FOLDERS if (source / f).is_dir()]
    if not folders:
        raise missing_layout(entry, source, f"the image folders {list(IMAGE_FOLDERS)}")
    text = metadata.read_text()
    dialect = "excel-tab" if "\t" in text.splitlines()[0] else "excel"
    rows = list(csv.DictReader(text.splitlines(), dialect=dialect))
    need = {"lesion_id", "image_id", "dx"}
    if not rows or need - set(rows[0]):
        raise DatasetError(f"{entry.name}: {metadata} needs the columns {sorted(need)}")
    classes = list(entry.classes) if entry.classes is not None else sorted({r["dx"] for r in rows})
    unknown = Counter(r["dx"] for r in rows if r["dx"] not in classes)
    if unknown:
        raise DatasetError(f"{entry.name}: {metadata} has dx values {dict(unknown)} outside {classes}")
    paths = {p.stem: p for folder in folders for p in list_images(folder)}

    def samples() -> Iterator[Sample]:
        for r in sorted(rows, key=lambda r: r["image_id"]):
            path = paths.get(r["image_id"], folders[0] / f"{r['image_id']}.jpg")
            yield Sample(
                str(path), classes.index(r["dx"]), None, path.relative_to(source).as_posix(), r["lesion_id"]
            )

    return RawSource(classes, samples())
