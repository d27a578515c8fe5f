"""Class-folder datasets: `DIR/<class>/*` (Concrete, Powerline, Insects, a user's own dataset).

Options (catalogue `options`): `recursive` (also take images in sub-folders of a class folder) and, for
`split: {policy: official}`, `train_dir`/`val_dir` (default `train`/`val`), each holding class folders.
Classes are the catalogue list when given (checked against the folders) or the sorted folder names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pipeline.data.readers import RawSource, Sample, list_images, missing_layout, subdirs
from pipeline.errors import DatasetError


def class_folder_classes(root: Path, entry, *, what: str) -> list[str]:
    """The class list of a folder of class folders, checked against the catalogue's list."""
    found = subdirs(root)
    if entry.classes is None:
        if not found:
            raise missing_layout(entry, root, f"class folders ({what})")
        return found
    missing = [c for c in entry.classes if c not in found]
    if missing:
        raise missing_layout(entry, root, f"class folders {missing} ({what})")
    extra = sorted(set(found) - set(entry.classes))
    if extra:
        raise DatasetError(
            f"{entry.name}: folders {extra} under {root} are not classes of this dataset "
            f"{list(entry.classes)}; move them away or list them in the catalogue's classes"
        )
    return list(entry.classes)


def class_folder_samples(
    root: Path, classes: list[str], split: str | None, *, base: Path, recursive: bool = False
) -> Iterator[Sample]:
    """One Sample per image of each class folder, classes in list order, files sorted."""
    for label, name in enumerate(classes):
        for path in list_images(root / name, recursive=recursive):
            yield Sample(str(path), label, split, path.relative_to(base).as_posix())


def read(source: Path, entry, *, class_map: Path | None = None) -> RawSource:
    recursive = bool(entry.options.get("recursive", False))
    if entry.split["policy"] != "official":
        classes = class_folder_classes(source, entry, what="DIR/<class>/")
        return RawSource(
            classes, class_folder_samples(source, classes, None, base=source, recursive=recursive)
        )
    roots = {s: source / entry.options.get(f"{s}_dir", s) for s in ("train", "val")}
    for split, root in roots.items():
        if not root.is_dir():
            raise missing_layout(entry, source, f"the {split} folder {root.name}/")
    classes = class_folder_classes(roots["train"], entry, what=f"{roots['train'].name}/<class>/")
    val_classes = subdirs(roots["val"])
    if set(val_classes) - set(classes):
        raise DatasetError(
            f"{entry.name}: {roots['val']} has class folders {sorted(set(val_classes) - set(classes))} "
            f"that {roots['train']} lacks"
        )

    def samples() -> Iterator[Sample]:
        for split, root in roots.items():
            present = [c for c in classes if (root / c).is_dir()]
            for sample in class_folder_samples(root, present, split, base=source, recursive=recursive):
                yield sample._replace(label=classes.index(present[sample.label]))

    return RawSource(classes, samples())
