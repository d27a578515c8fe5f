"""The dataset catalogue: one YAML per dataset under `datasets/`, loaded into a frozen `DatasetEntry`.

An entry says what a dataset's public files look like (`format`, `source`), which classes it has (or that
they are read from the data), how it is split, the storage resolution of its packed store (STUDY.md §3) and
the recipe defaults a task inherits (epochs and metric, STUDY.md §4). A user's own dataset is a copy of
`datasets/imagefolder.yaml` edited and passed by path: `load_entry("my/flowers.yaml")`.

Every problem in a file is collected and reported at once, naming the file, the key and the allowed values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pipeline import fsio, validate
from pipeline.data.readers import READERS
from pipeline.errors import DatasetError, PipelineError

# The catalogue ships as package data: pipeline/catalogue is the top-level datasets/ folder (a symlink in
# the source tree, copied into the wheel), so it is found the same way installed or not.
CATALOGUE_DIR = Path(str(resources.files("pipeline").joinpath("catalogue")))

# raw formats: the readers' registry, plus "synthetic" (generated, not read)
FORMATS = (*READERS, "synthetic")
SPLIT_POLICIES = ("official", "holdout", "grouped")
METRICS = ("top1", "top5")
RESIZE_FILTERS = ("box", "bilinear", "bicubic", "lanczos", "hamming", "nearest")
_KEYS = {
    "name",
    "title",
    "format",
    "classes",
    "resolution",
    "split",
    "recipe",
    "source",
    "images",
    "resize_filter",
    "options",
}
_SOURCE_KEYS = {"url", "hint", "expect", "license", "citation"}


@dataclass(frozen=True)
class DatasetEntry:
    """One catalogue dataset. `classes` is None when the class list is read from the data."""

    name: str
    format: str
    resolution: int  # storage side length in pixels (square)
    split: dict[str, Any]  # {"policy": official|holdout|grouped, "fraction": 0.1, "seed": 0}
    recipe: dict[str, Any]  # {"epochs": int, "metric": "top1"|"top5"}
    classes: tuple[str, ...] | None = None
    title: str = ""
    source_hint: str = ""  # where to get the files and where to put them
    source: dict[str, Any] = field(default_factory=dict)  # url, hint, expect (layout lines)
    images: int | None = None  # expected number of images, for the summary line
    resize_filter: str = "box"
    options: dict[str, Any] = field(default_factory=dict)  # format-specific (see each reader)
    path: Path | None = None  # the YAML it came from

    @property
    def num_classes(self) -> int | None:
        return None if self.classes is None else len(self.classes)


def list_datasets() -> list[str]:
    """Names of every catalogue entry (the YAML files under `datasets/`)."""
    return sorted(p.stem for p in CATALOGUE_DIR.glob("*.yaml"))


def load_entry(name_or_path: str | Path) -> DatasetEntry:
    """Load a catalogue entry by name (`concrete`) or from a YAML path (a user's own dataset)."""
    text = str(name_or_path)
    looks_like_path = text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text
    path = Path(text) if looks_like_path else CATALOGUE_DIR / f"{text}.yaml"
    if not path.is_file():
        if looks_like_path:
            raise DatasetError(f"dataset file {path} does not exist")
        known = ", ".join(list_datasets())
        raise DatasetError(
            f"unknown dataset {text!r}; known datasets: {known}; or pass the path of your own YAML "
            f"(copy {CATALOGUE_DIR / 'imagefolder.yaml'})"
        )
    try:
        raw = fsio.read_yaml(path)
    except PipelineError as error:
        raise DatasetError(str(error)) from None
    if not isinstance(raw, dict):
        raise DatasetError(f"{path}: expected a mapping of keys (name, format, resolution, ...)")
    return entry_from_dict(raw, path=path)


def entry_from_dict(raw: dict[str, Any], *, path: Path | None = None) -> DatasetEntry:
    """Validate a parsed catalogue mapping; every problem is reported in one DatasetError."""
    where = str(path) if path else "dataset entry"
    problems: list[str] = []
    fmt = raw.get("format")
    if fmt not in FORMATS:
        problems.append(f"format {fmt!r} is not one of {list(FORMATS)}")
    unknown = sorted(set(raw) - _KEYS)
    options = dict(raw.get("options") or {})
    if fmt == "synthetic":  # generator settings may sit at the top level of a synthetic entry
        options.update({k: raw[k] for k in unknown})
    elif unknown:
        problems.append(f"unknown keys {unknown} (allowed: {sorted(_KEYS)})")
    name = raw.get("name") or (path.stem if path else None)
    bad_name = validate.name_problem(name)
    if bad_name:
        problems.append(f"name {bad_name}")
    resolution = raw.get("resolution")
    if isinstance(resolution, list) and len(resolution) == 2 and resolution[0] == resolution[1]:
        resolution = resolution[0]
    if not isinstance(resolution, int) or isinstance(resolution, bool) or resolution < 1:
        problems.append(f"resolution {resolution!r} must be a positive integer (the stored side length)")
    classes = raw.get("classes")
    if classes is not None:
        if not isinstance(classes, list) or not all(isinstance(c, (str, int)) for c in classes):
            problems.append("classes must be a list of names, or null to read them from the data")
        else:
            classes = tuple(str(c) for c in classes)
            if len(set(classes)) != len(classes):
                problems.append("classes contains duplicates")
    split = {"policy": "holdout", "fraction": 0.1, "seed": 0, **(raw.get("split") or {})}
    if fmt == "synthetic":  # the generator draws its own train/val; its seed is prepare's --split-seed
        split = {"policy": "synthetic", "seed": int(split.get("seed") or 0)}
    elif split["policy"] not in SPLIT_POLICIES:
        problems.append(f"split.policy {split['policy']!r} is not one of {list(SPLIT_POLICIES)}")
    elif split["policy"] == "official":
        split = {"policy": "official"}
    elif not (isinstance(split.get("fraction"), (int, float)) and 0 < split["fraction"] < 1):
        problems.append(f"split.fraction {split.get('fraction')!r} must lie strictly between 0 and 1")
    recipe = dict(raw.get("recipe") or {})
    epochs = recipe.get("epochs")
    if not isinstance(epochs, int) or epochs < 1:
        problems.append(f"recipe.epochs {epochs!r} must be a positive integer")
    if recipe.get("metric") not in METRICS:
        problems.append(f"recipe.metric {recipe.get('metric')!r} is not one of {list(METRICS)}")
    source = raw.get("source") or {}
    if not isinstance(source, dict) or set(source) - _SOURCE_KEYS:
        problems.append(f"source must be a mapping with keys among {sorted(_SOURCE_KEYS)}")
        source = {}
    resize_filter = raw.get("resize_filter", "box")
    if resize_filter not in RESIZE_FILTERS:
        problems.append(f"resize_filter {resize_filter!r} is not one of {list(RESIZE_FILTERS)}")
    images = raw.get("images")
    if images is not None and (not isinstance(images, int) or images < 0):
        problems.append(f"images {images!r} must be a non-negative integer (the expected count)")
    if problems:
        raise DatasetError(f"{where}: " + "; ".join(problems))
    hint_lines = [source.get("hint", "")]
    if source.get("url"):
        hint_lines.append(f"get it from {source['url']}")
    return DatasetEntry(
        name=name,
        format=fmt,
        resolution=resolution,
        split=split,
        recipe=recipe,
        classes=classes,
        title=str(raw.get("title", "")),
        source_hint="; ".join(h for h in hint_lines if h),
        source=dict(source),
        images=images,
        resize_filter=resize_filter,
        options=options,
        path=path,
    )


def expected_layout(entry: DatasetEntry) -> str:
    """The `source.expect` lines of an entry as one phrase, for 'expected ... under DIR' messages."""
    expect = entry.source.get("expect") or []
    return ", ".join(expect) if expect else "(see datasets/README.md)"
