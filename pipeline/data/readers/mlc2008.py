"""Moorea Labeled Corals (MLC2008): quadrat photos with `<image>.txt` sidecars of `row;col;label` points.

Each annotated point becomes one sample: a square `options.patch_size` window (T22: 312) of the photo at
its source resolution, centred on the point. Labels are compared case-insensitively and mapped onto the
catalogue's class names (case merged: "Macro" and "macro" are one class); labels in `options.drop_labels`
("off": off-quadrat points) are dropped. A label outside the classes is an error naming it.

Borders: the window is not moved to fit inside the photo; the part outside is filled with black (zero)
pixels, so the annotated point is always the patch centre (Pillow `crop` semantics). Shifting the window
inward instead would put a different pixel under the label.

A sidecar may be named `<image>.jpg.txt` or `<image>.txt`; lines that are not `int;int;label` (headers)
are ignored. Rows and columns are 0-based pixel coordinates (row = y, col = x).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from pipeline.data.readers import IMAGE_SUFFIXES, Patch, RawSource, Sample, missing_layout
from pipeline.errors import DatasetError


def _image_of(sidecar: Path) -> Path | None:
    stem = sidecar.with_suffix("")  # x.jpg.txt -> x.jpg ; x.txt -> x
    if stem.suffix.lower() in IMAGE_SUFFIXES and stem.is_file():
        return stem
    for suffix in (".jpg", ".JPG", ".jpeg", ".png", ".PNG"):
        if stem.with_suffix(suffix).is_file():
            return stem.with_suffix(suffix)
    return None


def parse_points(text: str) -> list[tuple[int, int, str]]:
    """(row, col, label) of every `row;col;label` line; other lines are skipped."""
    points = []
    for line in text.splitlines():
        fields = [f.strip() for f in line.split(";")]
        if len(fields) < 3:
            continue
        try:
            row, col = int(float(fields[0])), int(float(fields[1]))
        except ValueError:
            continue
        points.append((row, col, fields[2]))
    return points


def read(source: Path, entry, *, class_map: Path | None = None) -> RawSource:
    size = int(entry.options.get("patch_size", entry.resolution))
    drop = {str(d).casefold() for d in entry.options.get("drop_labels", ["off"])}
    pairs = [(t, _image_of(t)) for t in sorted(source.rglob("*.txt")) if not t.name.startswith(".")]
    pairs = [(t, image) for t, image in pairs if image is not None]
    if not pairs:
        raise missing_layout(entry, source, "quadrat images with <image>.txt point files (row;col;label)")
    points = [(image, i, *p) for t, image in pairs for i, p in enumerate(parse_points(t.read_text()))]
    seen = Counter(label.casefold() for *_, label in points if label.casefold() not in drop)
    classes = list(entry.classes) if entry.classes is not None else sorted(seen)
    index = {c.casefold(): i for i, c in enumerate(classes)}
    unknown = {label: n for label, n in seen.items() if label not in index}
    if unknown:
        raise DatasetError(
            f"{entry.name}: point labels {unknown} are not among the classes {classes} (case-merged)"
        )

    def samples() -> Iterator[Sample]:
        for image, i, row, col, label in points:
            if label.casefold() in drop:
                continue
            source_id = f"{image.relative_to(source).as_posix()}#{i}"
            yield Sample(Patch(str(image), row, col, size), index[label.casefold()], None, source_id)

    return RawSource(classes, samples())
